//! `deploy-tcb security-scan` against `sarif-multitool merge` on the same generated input
//! (both write one merged SARIF; ours also parses, deduplicates and gates):
//! at least 200 MB of scanner SARIF from three tools (bandit, semgrep and a third SAST tool),
//! one result in four on a line the other tools flag too with a rule of the same family, plus
//! time and peak memory of each.
//!
//! `cargo bench --bench scan` (SCAN_BENCH_MB sets the input size; 200 by default).
//! Needs `/usr/bin/time` for peak memory; the peer runs when `sarif-multitool` is on PATH
//! (scripts/ci.d/scan.sh installs it).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const TOOLS: [&str; 3] = ["bandit", "semgrep", "flawfinder"];
const FILES_PER_TOOL: usize = 4;
const RULES: usize = 120;
const SOURCE_FILES: usize = 4_000;

/// A small deterministic generator, so both tools read the same bytes on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Rules 0..4 are the same four problems in every tool (shell injection, SQL injection,
/// unsafe deserialisation, weak hash, under each tool's own id), which deduplication merges
/// when two tools flag the same line; the others are each tool's own.
const SHARED_RULES: u64 = 4;

fn rule_id(tool: &str, rule: u64) -> String {
    const BANDIT: [&str; 4] = ["B602", "B608", "B301", "B303"];
    const SEMGREP: [&str; 4] = [
        "python.lang.security.audit.subprocess-shell-true.subprocess-shell-true",
        "python.lang.security.audit.formatted-sql-query.formatted-sql-query",
        "python.lang.security.deserialization.avoid-pickle.avoid-pickle",
        "python.lang.security.insecure-hash-algorithms.insecure-hash-algorithm-md5",
    ];
    const OTHER: [&str; 4] = [
        "FF-shell-popen",
        "FF-sql-format",
        "FF-pickle-load",
        "FF-md5",
    ];
    let shared = [BANDIT, SEMGREP, OTHER][TOOLS.iter().position(|t| *t == tool).unwrap_or(2)];
    match (tool, shared.get(rule as usize)) {
        (_, Some(id)) => (*id).to_string(),
        ("bandit", None) => format!("B{}", 900 + rule),
        ("semgrep", None) => format!("python.lang.custom.audit.rule-{rule}.rule-{rule}"),
        _ => format!("FF{rule:04}"),
    }
}

/// Where a finding is: `(rule, file, line)`. One record in four comes from a stream every tool
/// draws identically (`shared`), as when several scanners flag the same line.
fn place(own: &mut Rng, shared: &mut Rng) -> (u64, u64, u64) {
    if own.below(4) == 0 {
        let rule = shared.below(SHARED_RULES);
        (
            rule,
            shared.below(SOURCE_FILES as u64),
            1 + shared.below(400),
        )
    } else {
        let rule = SHARED_RULES + own.below(RULES as u64 - SHARED_RULES);
        (rule, own.below(SOURCE_FILES as u64), 1 + own.below(400))
    }
}

/// One tool's SARIF file of about `target` bytes.
fn write_sarif(path: &Path, tool: &str, part: u64, target: u64) -> std::io::Result<u64> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let tool_number = TOOLS.iter().position(|t| *t == tool).unwrap_or(0) as u64;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (tool_number << 32) ^ (part + 1));
    let mut shared = Rng(0xD1B5_4A32_D192_ED03 ^ (part + 1));
    write!(
        out,
        r#"{{"$schema":"https://json.schemastore.org/sarif-2.1.0.json","version":"2.1.0","runs":[{{"tool":{{"driver":{{"name":"{tool}","version":"1.0.0","rules":["#
    )?;
    for rule in 0..RULES as u64 {
        let comma = if rule == 0 { "" } else { "," };
        let level = ["error", "warning", "note"][(rule % 3) as usize];
        write!(
            out,
            r#"{comma}{{"id":"{id}","name":"Rule{rule}","shortDescription":{{"text":"Problem {rule} found by {tool}"}},"fullDescription":{{"text":"A longer description of problem {rule}, what it risks and how to fix it."}},"help":{{"text":"Fix problem {rule} by validating the input."}},"defaultConfiguration":{{"level":"{level}"}},"properties":{{"tags":["security","external/cwe/cwe-{cwe}"]}}}}"#,
            id = rule_id(tool, rule),
            cwe = 20 + rule,
        )?;
    }
    write!(out, r#"]}}}},"results":["#)?;
    let mut written = 0u64;
    let mut first = true;
    while written < target {
        let (rule, file, line) = place(&mut rng, &mut shared);
        let column = 1 + rng.below(40);
        let token = rng.next();
        let record = format!(
            r#"{comma}{{"ruleId":"{id}","level":"{level}","message":{{"text":"Problem {rule} in call to handler_{file} with untrusted argument"}},"locations":[{{"physicalLocation":{{"artifactLocation":{{"uri":"src/module_{dir}/file_{file}.py","uriBaseId":"%SRCROOT%"}},"region":{{"startLine":{line},"startColumn":{column},"endLine":{line},"endColumn":{end},"snippet":{{"text":"    result = handler_{file}(request.args.get('q{token:x}'), shell=True)  # generated"}}}}}}}}],"partialFingerprints":{{"primaryLocationLineHash":"{token:016x}:1"}},"properties":{{"confidence":"HIGH","generated":true}}}}"#,
            comma = if first { "" } else { "," },
            id = rule_id(tool, rule),
            level = ["error", "warning", "note"][(rule % 3) as usize],
            dir = file % 50,
            end = column + 20,
        );
        out.write_all(record.as_bytes())?;
        written += record.len() as u64;
        first = false;
    }
    write!(out, "]}}]}}")?;
    out.flush()?;
    Ok(written)
}

fn generate(dir: &Path, megabytes: u64) -> std::io::Result<(Vec<PathBuf>, u64)> {
    std::fs::create_dir_all(dir)?;
    let per_file = megabytes * 1024 * 1024 / (TOOLS.len() * FILES_PER_TOOL) as u64;
    let mut files = Vec::new();
    let mut total = 0;
    for tool in TOOLS {
        for part in 0..FILES_PER_TOOL {
            let path = dir.join(format!("{tool}-{part}.sarif"));
            if !path.exists() || std::fs::metadata(&path)?.len() < per_file {
                write_sarif(&path, tool, part as u64, per_file)?;
            }
            total += std::fs::metadata(&path)?.len();
            files.push(path);
        }
    }
    Ok((files, total))
}

/// What one run cost.
#[derive(Clone, Copy)]
struct Cost {
    wall: f64,
    cpu: Option<f64>,
    peak_mib: Option<f64>,
    ok: bool,
}

/// Runs a command under `/usr/bin/time`: wall and CPU seconds, peak RSS.
fn measure(program: &Path, args: &[String]) -> Cost {
    let timed = Path::new("/usr/bin/time").exists();
    let mut command = if timed {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-f")
            .arg("peak-rss-kib %M cpu-seconds %U")
            .arg(program);
        c
    } else {
        Command::new(program)
    };
    command
        .args(args)
        .env_remove("GITHUB_OUTPUT")
        .env_remove("GITHUB_STEP_SUMMARY");
    let start = Instant::now();
    let output = command.output().expect("the benchmarked program starts");
    let seconds = start.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .rfind(|l| l.starts_with("peak-rss-kib "))
        .unwrap_or("");
    let field = |name: &str| -> Option<f64> {
        let mut words = line.split_whitespace();
        words.find(|w| *w == name)?;
        words.next()?.parse().ok()
    };
    Cost {
        wall: seconds,
        cpu: field("cpu-seconds"),
        peak_mib: field("peak-rss-kib").map(|kib| kib / 1024.0),
        ok: output.status.code().is_some_and(|c| c <= 1),
    }
}

fn on_path(tool: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

fn main() {
    let megabytes: u64 = std::env::var("SCAN_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let dir = std::env::temp_dir().join(format!("deploy-tcb-scan-bench-v2-{megabytes}"));
    let (files, total) = generate(&dir, megabytes).expect("the input is generated");
    let input_mb = total as f64 / 1024.0 / 1024.0;
    println!(
        "input: {} SARIF files, {input_mb:.0} MiB, in {}",
        files.len(),
        dir.display()
    );
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();

    let ours_args = vec![
        "security-scan".to_string(),
        "--reports".into(),
        names.join("\n"),
        "--fail-on".into(),
        "none".into(),
        "--sarif-output".into(),
        dir.join("out/deploy-tcb.sarif").display().to_string(),
    ];
    let ours = measure(Path::new(env!("CARGO_BIN_EXE_deploy-tcb")), &ours_args);
    report("deploy-tcb security-scan", input_mb, ours);

    let Some(multitool) = on_path("sarif-multitool") else {
        println!("sarif-multitool merge: not on PATH (scripts/ci.d/scan.sh installs it); no ratio");
        return;
    };
    let mut peer_args = vec!["merge".to_string()];
    peer_args.extend(names.iter().cloned());
    peer_args.extend([
        "--output-directory".into(),
        dir.join("out").display().to_string(),
        "--output-file".into(),
        "multitool.sarif".into(),
    ]);
    let _ = std::fs::remove_file(dir.join("out/multitool.sarif"));
    let peer = measure(&multitool, &peer_args);
    report("sarif-multitool merge", input_mb, peer);
    println!(
        "ratio (wall): deploy-tcb is {:.1}x faster",
        peer.wall / ours.wall
    );
    if let (Some(a), Some(b)) = (ours.cpu, peer.cpu) {
        println!("ratio (CPU): deploy-tcb is {:.1}x faster", b / a);
    }
    if let (Some(a), Some(b)) = (ours.peak_mib, peer.peak_mib) {
        println!(
            "peak memory: deploy-tcb {a:.0} MiB ({:.0}% of the input) vs {b:.0} MiB",
            a / input_mb * 100.0
        );
    }
}

fn report(name: &str, input_mb: f64, cost: Cost) {
    let peak = cost
        .peak_mib
        .map_or_else(|| "n/a".to_string(), |p| format!("{p:.0} MiB"));
    let cpu = cost
        .cpu
        .map_or_else(|| "n/a".to_string(), |c| format!("{c:.1} s"));
    let status = if cost.ok { "" } else { " (FAILED)" };
    println!(
        "{name}: {:.1} s wall, {cpu} CPU, {:.1} MiB/s, peak RSS {peak}{status}",
        cost.wall,
        input_mb / cost.wall
    );
}
