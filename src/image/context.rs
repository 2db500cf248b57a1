//! The build context: the files of the context directory that `.dockerignore` keeps, walked in
//! the order Docker walks them and written as a tar stream.
//!
//! Like the Docker CLI, the Dockerfile and `.dockerignore` are always sent (the engine needs
//! them even when `.dockerignore` lists them), an excluded directory is still walked when an
//! exception starts with its path, and a Dockerfile outside the context is added under a
//! random `.dockerfile.<hex>` name.

use std::fs::{self, File, Metadata};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::ignore::{Matcher, ParentMatches, PatternError, clean};

/// Why the context cannot be prepared.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("the build context {0} is not a directory")]
    NotADirectory(PathBuf),
    #[error("the Dockerfile {0} does not exist")]
    NoDockerfile(PathBuf),
    #[error("{path}: {source}")]
    Ignore { path: PathBuf, source: PatternError },
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// One file, directory or link of the context.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Path inside the tar, `/`-separated, no trailing slash.
    pub name: String,
    pub source: PathBuf,
    pub kind: Kind,
    /// From the walk, so the tar header needs no second `lstat`.
    metadata: Option<Metadata>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
}

/// The context directory, its `.dockerignore`, and the Dockerfile as the engine will see it.
#[derive(Debug)]
pub struct BuildContext {
    root: PathBuf,
    matcher: Matcher,
    /// The Dockerfile's path inside the tar (the engine's `dockerfile` parameter).
    pub dockerfile_name: String,
    /// Set when the Dockerfile lies outside the context and is added to the tar under its name.
    external_dockerfile: Option<PathBuf>,
}

impl BuildContext {
    /// Prepares the context at `root` with the Dockerfile at `dockerfile` (relative to the
    /// context, or absolute).
    pub fn new(root: &Path, dockerfile: &Path) -> Result<Self, ContextError> {
        if !root.is_dir() {
            return Err(ContextError::NotADirectory(root.to_path_buf()));
        }
        let dockerfile_path = root.join(dockerfile);
        if !dockerfile_path.is_file() {
            return Err(ContextError::NoDockerfile(dockerfile_path));
        }
        let mut matcher = read_dockerignore(root)?;
        let io_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ContextError::Io { path, source }
        };
        let root_abs = root.canonicalize().map_err(io_error(root))?;
        let file_abs = dockerfile_path
            .canonicalize()
            .map_err(io_error(&dockerfile_path))?;
        let (dockerfile_name, external_dockerfile) = match file_abs.strip_prefix(&root_abs) {
            Ok(inside) => (slash_path(inside), None),
            Err(_) => (
                format!(
                    ".dockerfile.{}",
                    &uuid::Uuid::new_v4().simple().to_string()[..20]
                ),
                Some(file_abs),
            ),
        };
        keep_build_files(
            &mut matcher,
            &dockerfile_name,
            external_dockerfile.is_none(),
        )
        .map_err(|source| ContextError::Ignore {
            path: root.join(".dockerignore"),
            source,
        })?;
        Ok(BuildContext {
            root: root.to_path_buf(),
            matcher,
            dockerfile_name,
            external_dockerfile,
        })
    }

    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// Every entry that goes into the tar, in Docker's walk order (lexical, parents first).
    pub fn entries(&self) -> Result<Vec<Entry>, ContextError> {
        let mut entries = Vec::new();
        self.walk(&self.root, "", None, &mut entries)?;
        if let Some(path) = &self.external_dockerfile {
            entries.push(Entry {
                name: self.dockerfile_name.clone(),
                source: path.clone(),
                kind: Kind::File,
                metadata: None,
            });
        }
        Ok(entries)
    }

    fn walk(
        &self,
        dir: &Path,
        prefix: &str,
        parent: Option<&ParentMatches>,
        entries: &mut Vec<Entry>,
    ) -> Result<(), ContextError> {
        let io_error = |source| ContextError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut children: Vec<(String, PathBuf)> = fs::read_dir(dir)
            .map_err(io_error)?
            .map(|entry| entry.map(|e| (e.file_name().to_string_lossy().into_owned(), e.path())))
            .collect::<Result<_, _>>()
            .map_err(io_error)?;
        children.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (file_name, path) in children {
            let name = format!("{prefix}{file_name}");
            let meta = fs::symlink_metadata(&path).map_err(|source| ContextError::Io {
                path: path.clone(),
                source,
            })?;
            let kind = kind_of(&meta);
            let (excluded, state) = self.matcher.matches_with_parents(&name, parent);
            if excluded {
                let descend = kind == Some(Kind::Dir)
                    && self.matcher.has_exceptions()
                    && self.matcher.must_descend(&name);
                if descend {
                    self.walk(&path, &format!("{name}/"), Some(&state), entries)?;
                }
                continue;
            }
            let Some(kind) = kind else { continue };
            entries.push(Entry {
                name: name.clone(),
                source: path.clone(),
                kind,
                metadata: Some(meta),
            });
            if kind == Kind::Dir {
                self.walk(&path, &format!("{name}/"), Some(&state), entries)?;
            }
        }
        Ok(())
    }

    /// Writes the entries as a tar to `out`; returns the bytes written by the tar builder.
    pub fn write_tar<W: Write>(entries: &[Entry], out: W) -> io::Result<W> {
        let mut builder = tar::Builder::new(out);
        builder.follow_symlinks(false);
        for entry in entries {
            append(&mut builder, entry)?;
        }
        builder.into_inner()
    }
}

/// Reads `.dockerignore` from the context root, if there is one.
fn read_dockerignore(root: &Path) -> Result<Matcher, ContextError> {
    let path = root.join(".dockerignore");
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Matcher::default()),
        Err(source) => return Err(ContextError::Io { path, source }),
    };
    Matcher::parse(&text).map_err(|source| ContextError::Ignore { path, source })
}

/// The engine needs the Dockerfile and `.dockerignore` even when `.dockerignore` lists them.
fn keep_build_files(
    matcher: &mut Matcher,
    dockerfile: &str,
    dockerfile_inside: bool,
) -> Result<(), PatternError> {
    if matcher.is_excluded(".dockerignore") {
        matcher.push_exception(".dockerignore")?;
    }
    if dockerfile_inside && matcher.is_excluded(&clean(dockerfile)) {
        matcher.push_exception(dockerfile)?;
    }
    Ok(())
}

fn kind_of(meta: &Metadata) -> Option<Kind> {
    let file_type = meta.file_type();
    if file_type.is_symlink() {
        Some(Kind::Symlink)
    } else if file_type.is_dir() {
        Some(Kind::Dir)
    } else if file_type.is_file() {
        Some(Kind::File)
    } else {
        // Sockets, fifos and devices have no place in a build context; Docker skips them too.
        None
    }
}

fn slash_path(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn append<W: Write>(builder: &mut tar::Builder<W>, entry: &Entry) -> io::Result<()> {
    let meta = match &entry.metadata {
        Some(meta) => meta.clone(),
        None => fs::symlink_metadata(&entry.source)?,
    };
    let mut header = tar::Header::new_gnu();
    header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
    // Ownership on the runner means nothing inside the image; Docker resets it on COPY too.
    header.set_uid(0);
    header.set_gid(0);
    match entry.kind {
        Kind::File => {
            // Never more than the header announces, even if the file grows meanwhile.
            let file = io::Read::take(File::open(&entry.source)?, meta.len());
            builder.append_data(&mut header, &entry.name, file)
        }
        Kind::Dir => builder.append_data(&mut header, format!("{}/", entry.name), io::empty()),
        Kind::Symlink => {
            let target = fs::read_link(&entry.source)?;
            header.set_size(0);
            builder.append_link(&mut header, &entry.name, target)
        }
    }
}

/// A `Write` that hands the tar to the HTTP body in chunks as it is produced, so a large
/// context is never held in memory.
pub struct ChunkWriter {
    sender: tokio::sync::mpsc::Sender<io::Result<bytes::Bytes>>,
    buffer: Vec<u8>,
    pub written: u64,
}

const CHUNK: usize = 256 * 1024;

impl ChunkWriter {
    pub fn new(sender: tokio::sync::mpsc::Sender<io::Result<bytes::Bytes>>) -> Self {
        ChunkWriter {
            sender,
            buffer: Vec::with_capacity(CHUNK),
            written: 0,
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = bytes::Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK),
        ));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the engine closed the upload"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(data);
        self.written += data.len() as u64;
        if self.buffer.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[&str], dockerignore: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for file in files {
            let path = dir.path().join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, file).unwrap();
        }
        if let Some(text) = dockerignore {
            fs::write(dir.path().join(".dockerignore"), text).unwrap();
        }
        dir
    }

    fn files(context: &BuildContext) -> Vec<String> {
        context
            .entries()
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == Kind::File)
            .map(|e| e.name)
            .collect()
    }

    #[test]
    fn exceptions_reinclude_inside_excluded_directories() {
        let dir = tree(
            &[
                "Dockerfile",
                "docs/keep.md",
                "docs/drop.md",
                "src/a.rs",
                "x.log",
            ],
            Some("docs\n!docs/keep.md\n*.log\nDockerfile\n.dockerignore\n"),
        );
        let context = BuildContext::new(dir.path(), Path::new("Dockerfile")).unwrap();
        assert_eq!(
            files(&context),
            vec![".dockerignore", "Dockerfile", "docs/keep.md", "src/a.rs"]
        );
    }

    #[test]
    fn wildcard_exceptions_do_not_open_excluded_directories() {
        // Docker only descends when an exception starts with the directory's path.
        let dir = tree(
            &["Dockerfile", "docs/a.md", "b.md"],
            Some("docs\n!**/*.md\n"),
        );
        let context = BuildContext::new(dir.path(), Path::new("Dockerfile")).unwrap();
        assert_eq!(files(&context), vec![".dockerignore", "Dockerfile", "b.md"]);
    }

    #[test]
    fn outside_dockerfile_gets_a_private_name() {
        let dir = tree(&["ctx/a.txt", "build/Dockerfile"], None);
        let context =
            BuildContext::new(&dir.path().join("ctx"), Path::new("../build/Dockerfile")).unwrap();
        assert!(context.dockerfile_name.starts_with(".dockerfile."));
        let names = files(&context);
        assert_eq!(names[0], "a.txt");
        assert_eq!(names[1], context.dockerfile_name);
    }

    #[test]
    fn tar_round_trips() {
        let dir = tree(&["Dockerfile", "a/b/c.txt"], None);
        let context = BuildContext::new(dir.path(), Path::new("Dockerfile")).unwrap();
        let bytes = BuildContext::write_tar(&context.entries().unwrap(), Vec::new()).unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["Dockerfile", "a/", "a/b/", "a/b/c.txt"]);
    }

    #[test]
    fn missing_dockerfile_is_reported() {
        let dir = tree(&["a"], None);
        let error = BuildContext::new(dir.path(), Path::new("Dockerfile")).unwrap_err();
        assert!(matches!(error, ContextError::NoDockerfile(_)));
    }
}
