//! The validated build request: every input checked, with the input's name, the problem and
//! the fix, before anything talks to the engine. Pure, apart from the workflow context and the
//! clock passed in.

use std::path::{Path, PathBuf};

use regex::Regex;

use super::metadata::{self, GitContext, TagRule};
use crate::cli::BuildImageArgs;
use crate::error::{Error, Result};
use crate::runner::Secret;
use crate::runner::inputs::KeyValues;

/// How to log in to the registry for the push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryAuth {
    /// No credentials (an open registry, or one the engine is already logged in to).
    Anonymous { server: String },
    Password {
        server: String,
        username: String,
        password: Secret,
    },
    /// Enterprise TCR: a temporary token from tcr CreateInstanceToken.
    Tcr { server: String, instance_id: String },
}

/// Everything the build and push need.
#[derive(Debug, Clone)]
pub struct BuildPlan {
    pub context_dir: PathBuf,
    pub dockerfile: PathBuf,
    /// The Dockerfile as the workflow names it, for annotations: `<context>/<file>`.
    pub dockerfile_display: String,
    /// Repository without tag.
    pub image: String,
    pub tags: Vec<String>,
    pub labels: Vec<(String, String)>,
    pub build_args: Vec<(String, String)>,
    pub target: Option<String>,
    pub cache_from: Vec<String>,
    pub pull: bool,
    pub platform: Option<String>,
    pub push: bool,
    pub auth: RegistryAuth,
    /// Tencent Cloud credentials and endpoint, for the TCR token.
    pub cloud: crate::cli::CloudArgs,
}

impl BuildPlan {
    /// `image:tag` for every tag.
    pub fn references(&self) -> Vec<String> {
        self.tags
            .iter()
            .map(|t| format!("{}:{t}", self.image))
            .collect()
    }
}

/// Validates the inputs and computes tags and labels.
pub fn plan(args: &BuildImageArgs, context: &GitContext, created: &str) -> Result<BuildPlan> {
    let image = validate_image(args.image.as_deref())?;
    let rules = parse_rules(args.tag_rules.items())?;
    let version = parse_version(args.version.as_deref(), context)?;
    for tag in args.tags.items() {
        if !metadata::is_valid_tag(tag) {
            return Err(Error::input(
                "tags",
                format!("`{tag}` is not a valid tag"),
                "use letters, digits, `_`, `.` and `-`, at most 128 characters, not starting with `.` or `-`",
            ));
        }
    }
    let tags = metadata::compute_tags(&rules, version.as_ref(), context, args.tags.items());
    if tags.is_empty() {
        return Err(Error::input(
            "tags",
            "no tag applies to this run (the rules gave none and no explicit tag is set)",
            "add explicit `tags`, or include `sha` in `tag_rules`",
        ));
    }
    let labels = metadata::compute_labels(version.as_ref(), context, created, &args.labels.0);
    if let Some(target) = &args.target {
        check_target(target)?;
    }
    if let Some(platform) = &args.platform {
        check_platform(platform)?;
    }
    let auth = registry_auth(args, &image)?;
    Ok(BuildPlan {
        dockerfile_display: display_path(&args.context, &args.file),
        context_dir: args.context.clone(),
        dockerfile: args.file.clone(),
        image,
        tags,
        labels,
        build_args: args.build_args.0.clone(),
        target: args.target.clone().filter(|t| !t.is_empty()),
        cache_from: args.cache_from.items().to_vec(),
        pull: args.pull,
        platform: args.platform.clone().filter(|p| !p.is_empty()),
        push: args.push,
        auth,
        cloud: args.cloud.clone(),
    })
}

fn display_path(context: &Path, file: &Path) -> String {
    if file.is_absolute() {
        return file.display().to_string();
    }
    super::ignore::clean(&context.join(file).to_string_lossy().replace('\\', "/"))
}

/// A repository reference without tag or digest, in Docker's grammar.
fn validate_image(image: Option<&str>) -> Result<String> {
    let fix = "set `image` to the repository without a tag, e.g. ccr.ccs.tencentyun.com/team/app";
    let Some(image) = image.map(str::trim).filter(|i| !i.is_empty()) else {
        return Err(Error::input("image", "is missing", fix));
    };
    if image.contains('@')
        || image
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'))
    {
        return Err(Error::input(
            "image",
            format!("`{image}` carries a tag or digest"),
            "leave tags to `tags` and `tag_rules`; give only the repository",
        ));
    }
    let component = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
    let host = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?";
    let pattern = format!("^(?:{host}/)?{component}(?:/{component})*$");
    let valid = Regex::new(&pattern).is_ok_and(|re| re.is_match(image));
    if !valid || image.len() > 255 {
        return Err(Error::input(
            "image",
            format!("`{image}` is not a valid image repository"),
            "use lower-case path components separated by `/`, after an optional registry host[:port]",
        ));
    }
    Ok(image.to_string())
}

fn parse_rules(names: &[String]) -> Result<Vec<TagRule>> {
    names
        .iter()
        .map(|name| {
            TagRule::parse(name).ok_or_else(|| {
                Error::input(
                    "tag_rules",
                    format!("`{name}` is not a tag rule"),
                    format!("use some of: {}", TagRule::NAMES),
                )
            })
        })
        .collect()
}

fn parse_version(input: Option<&str>, context: &GitContext) -> Result<Option<metadata::Version>> {
    let given = input.map(str::trim).filter(|v| !v.is_empty());
    let version = metadata::release_version(given, context);
    match (given, &version) {
        (Some(text), None) => Err(Error::input(
            "version",
            format!("`{text}` is not a semantic version"),
            "give MAJOR.MINOR.PATCH with an optional -prerelease, e.g. 1.4.0 or v2.0.0-rc.1",
        )),
        _ => Ok(version),
    }
}

fn check_target(target: &str) -> Result<()> {
    let ok = target
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        return Ok(());
    }
    Err(Error::input(
        "target",
        format!("`{target}` is not a stage name"),
        "name a stage declared with `FROM … AS <name>` (letters, digits, `-`, `_`, `.`)",
    ))
}

fn check_platform(platform: &str) -> Result<()> {
    let parts: Vec<&str> = platform.split('/').collect();
    let ok = (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    if ok {
        return Ok(());
    }
    Err(Error::input(
        "platform",
        format!("`{platform}` is not a platform"),
        "write os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8",
    ))
}

/// clap parser for the `labels` input: `KEY=VALUE` lines like build args, but keys may hold
/// the dots and dashes of label names (`org.opencontainers.image.title`, `com.example-team`).
pub fn parse_labels(value: &str) -> std::result::Result<KeyValues, String> {
    let mut pairs = Vec::new();
    for (index, line) in value.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, val)) = line.split_once('=') else {
            return Err(format!(
                "line {} (`{line}`) is not KEY=VALUE; write one label per line",
                index + 1
            ));
        };
        let key = key.trim();
        let valid = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/'));
        if !valid {
            return Err(format!(
                "line {}: `{key}` is not a label name; use letters, digits, `.`, `-`, `_` and `/`",
                index + 1
            ));
        }
        pairs.push((key.to_string(), val.trim().to_string()));
    }
    Ok(KeyValues(pairs))
}

/// The registry a repository lives in: its first component when that looks like a host.
pub fn registry_of(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first.to_string(),
        _ => "docker.io".to_string(),
    }
}

fn registry_auth(args: &BuildImageArgs, image: &str) -> Result<RegistryAuth> {
    let server = args
        .registry
        .clone()
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| registry_of(image));
    let username = args.username.clone().filter(|u| !u.trim().is_empty());
    let password = args.password.clone().filter(|p| !p.expose().is_empty());
    let instance = args
        .tcr_instance_id
        .clone()
        .filter(|i| !i.trim().is_empty());
    match (instance, username, password) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(Error::input(
            "tcr_instance_id",
            "is set together with username/password",
            "use either a TCR instance (temporary token) or a username and password, not both",
        )),
        (Some(instance_id), None, None) => Ok(RegistryAuth::Tcr {
            server,
            instance_id: instance_id.trim().to_string(),
        }),
        (None, Some(username), Some(password)) => Ok(RegistryAuth::Password {
            server,
            username,
            password,
        }),
        (None, Some(_), None) => Err(Error::input(
            "password",
            "is missing while `username` is set",
            "pass the registry password or token from a secret: password: ${{ secrets.REGISTRY_PASSWORD }}",
        )),
        (None, None, Some(_)) => Err(Error::input(
            "username",
            "is missing while `password` is set",
            "set the registry user name",
        )),
        (None, None, None) => Ok(RegistryAuth::Anonymous { server }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> BuildImageArgs {
        let mut argv = vec!["deploy-tcb", "build-image"];
        argv.extend_from_slice(extra);
        match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::BuildImage(args) => args,
            _ => unreachable!(),
        }
    }

    fn push_main() -> GitContext {
        GitContext {
            event_name: "push".into(),
            git_ref: "refs/heads/main".into(),
            sha: "0123456789abcdef".into(),
            repository: "o/app".into(),
            default_branch: Some("main".into()),
            ..Default::default()
        }
    }

    fn input_error(result: Result<BuildPlan>) -> String {
        match result {
            Err(Error::Input { input, .. }) => input,
            other => panic!("expected an input error, got {other:?}"),
        }
    }

    #[test]
    fn a_plan_for_the_default_branch() {
        let plan = plan(
            &args(&["--image", "127.0.0.1:5000/team/app", "--build-args", "A=1"]),
            &push_main(),
            "now",
        )
        .unwrap();
        assert_eq!(plan.tags, vec!["sha-0123456", "main", "latest"]);
        assert_eq!(plan.references()[0], "127.0.0.1:5000/team/app:sha-0123456");
        assert_eq!(plan.dockerfile_display, "Dockerfile");
        assert_eq!(
            plan.auth,
            RegistryAuth::Anonymous {
                server: "127.0.0.1:5000".into()
            }
        );
    }

    #[test]
    fn bad_inputs_name_the_input() {
        let ctx = push_main();
        let cases: &[(&[&str], &str)] = &[
            (&[], "image"),
            (&["--image", "app:1.0"], "image"),
            (&["--image", "Team/App"], "image"),
            (
                &["--image", "app", "--tag-rules", "sha,nightly"],
                "tag_rules",
            ),
            (&["--image", "app", "--version", "one"], "version"),
            (&["--image", "app", "--tags", ".bad"], "tags"),
            (&["--image", "app", "--tag-rules", "pr"], "tags"),
            (&["--image", "app", "--platform", "amd64"], "platform"),
            (&["--image", "app", "--target", "a b"], "target"),
            (&["--image", "app", "--username", "u"], "password"),
            (
                &[
                    "--image",
                    "app",
                    "--tcr-instance-id",
                    "tcr-1",
                    "--username",
                    "u",
                ],
                "tcr_instance_id",
            ),
        ];
        for (argv, input) in cases {
            assert_eq!(
                input_error(plan(&args(argv), &ctx, "now")),
                *input,
                "{argv:?}"
            );
        }
    }

    #[test]
    fn labels_take_dotted_names() {
        let labels =
            parse_labels("org.opencontainers.image.title=App\n# c\ncom.example-team=a=b").unwrap();
        assert_eq!(
            labels.0[0],
            ("org.opencontainers.image.title".into(), "App".into())
        );
        assert_eq!(labels.0[1].1, "a=b");
        assert!(parse_labels("bad key=1").unwrap_err().contains("line 1"));
        assert!(parse_labels("novalue").unwrap_err().contains("KEY=VALUE"));
    }

    #[test]
    fn registry_defaults_to_the_image_host() {
        assert_eq!(
            registry_of("ccr.ccs.tencentyun.com/t/app"),
            "ccr.ccs.tencentyun.com"
        );
        assert_eq!(registry_of("localhost/app"), "localhost");
        assert_eq!(registry_of("library/app"), "docker.io");
        assert_eq!(
            display_path(Path::new("./web"), Path::new("docker/Dockerfile")),
            "web/docker/Dockerfile"
        );
    }
}
