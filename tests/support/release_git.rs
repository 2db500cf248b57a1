//! Git repositories built inside a test (git2, in a temporary directory), for release-semver.

use std::path::Path;

use git2::{Oid, Repository, Signature, Tree};
use tempfile::TempDir;

/// A repository on branch `main` whose commits each add or change one file.
pub struct TestRepo {
    pub dir: TempDir,
    pub repo: Repository,
    counter: usize,
}

impl TestRepo {
    /// An empty repository with a configured identity.
    pub fn new() -> TestRepo {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut options = git2::RepositoryInitOptions::new();
        options.initial_head("main");
        let repo = Repository::init_opts(dir.path(), &options).expect("git init");
        let mut config = repo.config().expect("config");
        config.set_str("user.name", "Tess Ter").expect("name");
        config
            .set_str("user.email", "tess@example.com")
            .expect("email");
        TestRepo {
            dir,
            repo,
            counter: 0,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn signature(&self) -> Signature<'static> {
        Signature::now("Tess Ter", "tess@example.com").expect("signature")
    }

    /// Commits on HEAD, changing `file<n>.txt`.
    pub fn commit(&mut self, message: &str) -> Oid {
        self.counter += 1;
        let path = format!("file{}.txt", self.counter);
        self.commit_file(&path, message)
    }

    /// Commits on HEAD, writing `path` (nested directories allowed).
    pub fn commit_file(&mut self, path: &str, message: &str) -> Oid {
        self.counter += 1;
        let parent = self.head();
        let content = format!("change {}\n", self.counter);
        let tree = self.tree_with(parent, path, &content);
        let parents: Vec<git2::Commit> = parent
            .map(|p| self.repo.find_commit(p).expect("parent"))
            .into_iter()
            .collect();
        let parent_refs: Vec<&git2::Commit> = parents.iter().collect();
        let sig = self.signature();
        let oid = self
            .repo
            .commit(Some("HEAD"), &sig, &sig, message, &tree, &parent_refs)
            .expect("commit");
        self.sync_workdir();
        oid
    }

    /// Commits on a side line starting at `base`, without moving HEAD; returns the new tip.
    pub fn side_commit(&mut self, base: Oid, message: &str) -> Oid {
        self.counter += 1;
        let path = format!("side{}.txt", self.counter);
        let tree = self.tree_with(Some(base), &path, "side\n");
        let parent = self.repo.find_commit(base).expect("base");
        let sig = self.signature();
        self.repo
            .commit(None, &sig, &sig, message, &tree, &[&parent])
            .expect("side commit")
    }

    /// A merge commit of `other` into HEAD.
    pub fn merge(&mut self, other: Oid, message: &str) -> Oid {
        let head = self.head().expect("HEAD");
        let ours = self.repo.find_commit(head).expect("ours");
        let theirs = self.repo.find_commit(other).expect("theirs");
        let mut index = self
            .repo
            .merge_commits(&ours, &theirs, None)
            .expect("merge");
        let tree_id = index.write_tree_to(&self.repo).expect("merged tree");
        let tree = self.repo.find_tree(tree_id).expect("tree");
        let sig = self.signature();
        let oid = self
            .repo
            .commit(Some("HEAD"), &sig, &sig, message, &tree, &[&ours, &theirs])
            .expect("merge commit");
        self.sync_workdir();
        oid
    }

    /// A lightweight tag on HEAD.
    pub fn tag(&self, name: &str) {
        let head = self
            .repo
            .find_object(self.head().expect("HEAD"), None)
            .unwrap();
        self.repo.tag_lightweight(name, &head, false).expect("tag");
    }

    /// An annotated tag on HEAD.
    pub fn annotated_tag(&self, name: &str) {
        let head = self
            .repo
            .find_object(self.head().expect("HEAD"), None)
            .unwrap();
        self.repo
            .tag(name, &head, &self.signature(), "release", false)
            .expect("annotated tag");
    }

    pub fn head(&self) -> Option<Oid> {
        self.repo.head().ok().and_then(|h| h.target())
    }

    /// The commit a tag points at, and whether the tag is annotated.
    pub fn tag_target(&self, name: &str) -> Option<(Oid, bool)> {
        let reference = self
            .repo
            .find_reference(&format!("refs/tags/{name}"))
            .ok()?;
        let annotated = reference.peel_to_tag().is_ok();
        Some((reference.peel_to_commit().ok()?.id(), annotated))
    }

    fn tree_with(&self, parent: Option<Oid>, path: &str, content: &str) -> Tree<'_> {
        let base = parent.map(|p| self.repo.find_commit(p).unwrap().tree().unwrap());
        let blob = self.repo.blob(content.as_bytes()).expect("blob");
        let parts: Vec<&str> = path.split('/').collect();
        let oid = self.insert(base.as_ref(), &parts, blob);
        self.repo.find_tree(oid).expect("tree")
    }

    fn insert(&self, base: Option<&Tree>, parts: &[&str], blob: Oid) -> Oid {
        let mut builder = self.repo.treebuilder(base).expect("treebuilder");
        if parts.len() == 1 {
            builder
                .insert(parts[0], blob, 0o100644)
                .expect("insert blob");
        } else {
            let sub = base
                .and_then(|t| t.get_name(parts[0]))
                .and_then(|e| self.repo.find_tree(e.id()).ok());
            let sub_oid = self.insert(sub.as_ref(), &parts[1..], blob);
            builder
                .insert(parts[0], sub_oid, 0o040000)
                .expect("insert tree");
        }
        builder.write().expect("write tree")
    }

    fn sync_workdir(&self) {
        let mut checkout = git2::build::CheckoutBuilder::new();
        checkout.force();
        self.repo
            .checkout_head(Some(&mut checkout))
            .expect("checkout");
    }
}
