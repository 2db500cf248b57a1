//! security-scan: every scanner report in the corpus parses with a pinned count, real
//! scanners' fresh output on the sample app is aggregated and its cross-tool duplicates
//! merged, the merged SARIF is valid (OASIS schema and GitHub's ingestion rules), the gate
//! and baseline decide as documented, and no input makes a parser panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use deploy_tcb::scan::model::Interner;
use deploy_tcb::scan::parse::{parse_bytes, parse_file};
use deploy_tcb::scan::paths::RepoPaths;
use proptest::prelude::*;
use serde_json::Value;

use crate::support;

/// Every file of `corpus/scans/<tool>/`: `Some((findings, scanner issues))` for a scanner's
/// own output, `None` for a file that is not one (text, CSV, JUnit, GitLab code quality,
/// Semgrep App API exports), which must be refused with an error naming it.
const CORPUS: &[(&str, Option<(usize, usize)>)] = &[
    ("bandit/dd.json", Some((47, 0))),
    ("bandit/dd2.json", Some((165, 0))),
    ("bandit/generated-bandit-1.9.4-builtin.sarif", Some((26, 0))),
    ("bandit/generated-bandit-1.9.4-empty.json", Some((0, 0))),
    (
        "bandit/generated-bandit-1.9.4-medium-up.json",
        Some((16, 0)),
    ),
    ("bandit/generated-bandit-1.9.4-screen.txt", None),
    (
        "bandit/generated-bandit-1.9.4-via-bandit-sarif-formatter-1.1.1.sarif",
        Some((26, 0)),
    ),
    ("bandit/generated-bandit-1.9.4.json", Some((26, 0))),
    ("bandit/many_vulns.json", Some((214, 0))),
    ("checkov/checkov-report-1-vuln.json", Some((1, 0))),
    ("checkov/checkov-report-many-vuln.json", Some((3, 0))),
    (
        "checkov/checkov-report-multiple-check_type.json",
        Some((13, 0)),
    ),
    (
        "checkov/generated-checkov-3.3.30-dockerfile-quiet-compact.json",
        Some((6, 0)),
    ),
    (
        "checkov/generated-checkov-3.3.30-dockerfile.json",
        Some((6, 0)),
    ),
    (
        "checkov/generated-checkov-3.3.30-dockerfile.sarif",
        Some((6, 0)),
    ),
    ("checkov/generated-checkov-3.3.30-empty.json", Some((0, 0))),
    (
        "checkov/generated-checkov-3.3.30-multi-dockerfile-secrets.json",
        Some((9, 0)),
    ),
    (
        "checkov/generated-checkov-3.3.30-multi-dockerfile-secrets.sarif",
        Some((9, 0)),
    ),
    ("dependency_check/dc_empty.xml", Some((0, 0))),
    (
        "dependency_check/multiple_vulnerabilities_has_multiple_findings.xml",
        Some((7, 0)),
    ),
    ("dependency_check/single_vuln.xml", Some((1, 0))),
    ("dependency_check/version-6.5.3.xml", Some((1, 0))),
    (
        "dependency_check/version-6.5.3_multi_cwe_fabricated.xml",
        Some((1, 0)),
    ),
    (
        "detect_secrets/generated-detect-secrets-1.5.0-baseline.json",
        Some((10, 0)),
    ),
    ("detect_secrets/many_findings.json", Some((3, 0))),
    ("detect_secrets/no_findings.json", Some((0, 0))),
    ("gitleaks/data_many.json", Some((2, 0))),
    ("gitleaks/data_one.json", Some((1, 0))),
    ("gitleaks/gitleaks8_many.json", Some((4, 0))),
    ("gitleaks/no_findings.json", Some((0, 0))),
    ("gitleaks/upstream-baseline.json", Some((2, 0))),
    ("gitleaks/upstream-baseline.sarif", Some((0, 0))),
    ("gitleaks/upstream-csv_simple.csv", None),
    ("gitleaks/upstream-empty.json", Some((0, 0))),
    ("gitleaks/upstream-junit_simple.xml", None),
    ("gitleaks/upstream-sarif_simple.sarif", Some((1, 0))),
    ("gitleaks/upstream-template_jsonextra.json", Some((1, 0))),
    ("gitleaks/version_7.5.0.json", Some((8, 0))),
    ("govulncheck/empty.json", Some((0, 0))),
    ("govulncheck/issue_15033.json", Some((178, 0))),
    ("govulncheck/issue_15033_sarif.json", Some((3, 0))),
    ("govulncheck/many_vulns_new_version.json", Some((1, 0))),
    (
        "govulncheck/many_vulns_new_version_custom_severity.json",
        Some((2, 0)),
    ),
    ("govulncheck/no_vulns.json", Some((0, 0))),
    ("govulncheck/no_vulns_new_version.json", Some((0, 0))),
    ("grype/anchore_grype_epss_problem.json", Some((1, 0))),
    ("grype/check_all_fields.json", Some((6, 0))),
    (
        "grype/check_all_fields_different_ids_fabricated.json",
        Some((1, 0)),
    ),
    (
        "grype/check_all_fields_with_ids_fabricated.json",
        Some((1, 0)),
    ),
    ("grype/issue_9618.json", Some((35, 0))),
    ("grype/issue_9942.json", Some((1, 0))),
    ("grype/many_vulns3.json", Some((327, 0))),
    ("grype/many_vulns4.json", Some((9, 0))),
    ("grype/many_vulns_with_epss_values.json", Some((15, 0))),
    ("grype/no_vuln.json", Some((0, 0))),
    ("grype/same_cve_different_paths.json", Some((2, 0))),
    (
        "hadolint/generated-hadolint-2.15.1-empty.json",
        Some((0, 0)),
    ),
    (
        "hadolint/generated-hadolint-2.15.1-empty.sarif",
        Some((0, 0)),
    ),
    (
        "hadolint/generated-hadolint-2.15.1-gitlab-codeclimate.json",
        None,
    ),
    ("hadolint/generated-hadolint-2.15.1.json", Some((8, 0))),
    ("hadolint/generated-hadolint-2.15.1.sarif", Some((8, 0))),
    ("hadolint/one_dockerfile.json", Some((4, 0))),
    ("npm_audit/cwe_null.json", Some((1, 0))),
    ("npm_audit/empty_with_error.json", Some((0, 1))),
    ("npm_audit/issue_7897.json", Some((5, 0))),
    ("npm_audit/many_vuln.json", Some((5, 0))),
    ("npm_audit/many_vuln_npm7.json", Some((8, 0))),
    ("npm_audit/many_vuln_with_groups.json", Some((5, 0))),
    (
        "npm_audit/many_vuln_with_groups_different_titles.json",
        Some((5, 0)),
    ),
    ("npm_audit/multiple_cwes.json", Some((44, 0))),
    ("npm_audit/one_vuln.json", Some((1, 0))),
    ("npm_audit_7_plus/issue_10801.json", Some((1, 0))),
    ("npm_audit_7_plus/many_vulns.json", Some((3, 0))),
    (
        "npm_audit_7_plus/multiple_cwes_fabricated.json",
        Some((1, 0)),
    ),
    ("npm_audit_7_plus/one_vuln.json", Some((2, 0))),
    ("osv_scanner/many_findings.json", Some((66, 0))),
    ("osv_scanner/multi_cwe_fabricated.json", Some((1, 0))),
    ("osv_scanner/no_findings.json", Some((0, 0))),
    ("pip_audit/empty.json", Some((0, 0))),
    ("pip_audit/empty_new.json", Some((0, 0))),
    (
        "pip_audit/generated-pip-audit-2.10.1-all-skipped-offline.json",
        Some((0, 1)),
    ),
    ("pip_audit/many_vulns.json", Some((7, 1))),
    ("pip_audit/many_vulns_new.json", Some((7, 1))),
    ("pip_audit/zero_vulns.json", Some((0, 1))),
    ("safety/empty.json", Some((0, 0))),
    ("safety/example_report.json", Some((3, 0))),
    ("safety/generated-safety-2.3.5-check-bare.txt", None),
    (
        "safety/generated-safety-2.3.5-check-json-empty.json",
        Some((0, 0)),
    ),
    (
        "safety/generated-safety-2.3.5-check-json.json",
        Some((26, 0)),
    ),
    ("safety/multiple_cves.json", Some((1, 0))),
    ("safety/no_cve.json", Some((1, 0))),
    ("safety/upstream-report.json", Some((1, 0))),
    (
        "safety/upstream-report_with_recommended_fix.json",
        Some((4, 0)),
    ),
    (
        "sarif/DefectDojo_django-DefectDojo__2020-12-11_13_42_10__export.sarif",
        Some((510, 0)),
    ),
    ("sarif/SuppressionTestCurrent.sarif", Some((1, 0))),
    ("sarif/appendix_k1_double.sarif", Some((0, 0))),
    ("sarif/appendix_k2.sarif", Some((1, 0))),
    (
        "sarif/bash-report-fabricated-no-internal-dupes-subset.sarif",
        Some((4, 0)),
    ),
    (
        "sarif/bash-report-fabricated-no-internal-dupes.sarif",
        Some((5, 0)),
    ),
    (
        "sarif/bash-report-subset-same-hash-code-same-unique-id.sarif",
        Some((4, 0)),
    ),
    ("sarif/bash-report.sarif", Some((27, 0))),
    ("sarif/blackduck_nested_fingerprints.sarif", Some((5, 0))),
    ("sarif/codeQL-output.sarif", Some((72, 0))),
    ("sarif/cxf-3.4.6.sarif", Some((22, 0))),
    ("sarif/dockle_0_3_15.sarif", Some((4, 0))),
    ("sarif/flawfinder.sarif", Some((53, 0))),
    ("sarif/issue_10191.json", Some((77, 31))),
    ("sarif/mobsfscan.json", Some((9, 0))),
    ("sarif/njsscan.sarif", Some((2, 0))),
    ("sarif/no_runs.sarif", Some((0, 0))),
    ("sarif/semgrepowasp-benchmark-sample.sarif", Some((1768, 0))),
    ("sarif/spotbugs.sarif", Some((56, 2))),
    ("sarif/suppression_test.sarif", Some((2, 0))),
    ("sarif/taint-python-report.sarif", Some((11, 0))),
    (
        "semgrep/close_old_findings_report_line31.json",
        Some((1, 0)),
    ),
    (
        "semgrep/close_old_findings_report_third_run_different_unique_id.json",
        Some((1, 0)),
    ),
    ("semgrep/cwe_list.json", Some((1, 0))),
    ("semgrep/empty.json", Some((0, 0))),
    ("semgrep/fingerprint_test.json", Some((2, 0))),
    ("semgrep/generated-semgrep-1.185.0-empty.json", Some((0, 0))),
    (
        "semgrep/generated-semgrep-1.185.0-empty.sarif",
        Some((0, 0)),
    ),
    (
        "semgrep/generated-semgrep-1.185.0-with-parse-error.json",
        Some((1, 1)),
    ),
    (
        "semgrep/generated-semgrep-1.185.0-with-parse-error.sarif",
        Some((1, 1)),
    ),
    ("semgrep/generated-semgrep-1.185.0.json", Some((18, 0))),
    ("semgrep/generated-semgrep-1.185.0.sarif", Some((18, 0))),
    ("semgrep/high-medium-low-severities.json", Some((3, 0))),
    ("semgrep/issue_8435.json", Some((1, 0))),
    ("semgrep/many_vulns.json", Some((48, 0))),
    ("semgrep/multiple_cwes_fabricated.json", Some((1, 0))),
    ("semgrep/semgrep_version_1_30_0_line_26.json", Some((5, 0))),
    ("semgrep/semgrep_version_1_30_0_line_27.json", Some((5, 0))),
    (
        "semgrep/upstream-cli_output-dependency_aware.json",
        Some((1, 0)),
    ),
    (
        "semgrep/upstream-cli_output-invalid_rule.json",
        Some((0, 2)),
    ),
    ("semgrep/upstream-cli_output-skipped.json", Some((0, 1))),
    (
        "semgrep/upstream-test_json_output_with_dataflow_traces_results.json",
        Some((1, 0)),
    ),
    (
        "semgrep/upstream-test_output_format_--json_results.json",
        Some((1, 0)),
    ),
    (
        "semgrep/upstream-test_sarif_output_include_nosemgrep.sarif",
        Some((1, 0)),
    ),
    (
        "semgrep/upstream-test_sarif_output_rule_board.sarif",
        Some((3, 0)),
    ),
    (
        "semgrep/upstream-test_sarif_output_when_errors.sarif",
        Some((0, 1)),
    ),
    (
        "semgrep/upstream-test_sarif_output_with_autofix.sarif",
        Some((2, 0)),
    ),
    (
        "semgrep/upstream-test_sarif_output_with_nosemgrep_and_error.sarif",
        Some((0, 0)),
    ),
    (
        "semgrep/upstream-test_sarif_output_with_source.sarif",
        Some((2, 0)),
    ),
    ("semgrep_pro/multiple_cwes_fabricated.json", None),
    ("semgrep_pro/no_vuln.json", None),
    ("semgrep_pro/one_vuln.json", None),
    ("snyk/all-projects_no_vulns.json", Some((0, 0))),
    ("snyk/all_containers_target_output.json", Some((40, 0))),
    ("snyk/single_project_None_cvss.json", Some((1, 0))),
    ("snyk/single_project_many_vulns.json", Some((41, 0))),
    ("snyk/single_project_no_vulns.json", Some((0, 0))),
    ("snyk/single_project_one_vuln.json", Some((1, 0))),
    (
        "snyk/single_project_one_vuln_with_ampersands.json",
        Some((1, 0)),
    ),
    ("snyk/snykcode_issue_9270.json", Some((39, 0))),
    ("snyk/snykcontainer_issue_9270.json", Some((25, 0))),
    ("snyk/snykcontainer_issue_epss.json", Some((1, 0))),
    ("snyk_code/single_project_many_vulns.json", Some((206, 0))),
    ("snyk_code/snykcode_issue_9270.json", Some((39, 0))),
    ("trivy/all_statuses.json", Some((7, 0))),
    ("trivy/cvss_severity_source.json", Some((2, 0))),
    ("trivy/cvssv4_severity_source.json", Some((3, 0))),
    ("trivy/issue_10991.json", Some((37, 0))),
    ("trivy/issue_14136.json", Some((1, 0))),
    ("trivy/issue_9092.json", Some((1, 0))),
    ("trivy/issue_9170.json", Some((37, 0))),
    ("trivy/issue_9263.json", Some((1, 0))),
    ("trivy/kubernetes.json", Some((20, 0))),
    (
        "trivy/kubernetes_fabricated_internal_duplicates.json",
        Some((13, 0)),
    ),
    ("trivy/legacy_no_vuln.json", Some((0, 0))),
    ("trivy/legacy_trivy_mix.json", Some((7, 0))),
    ("trivy/license_scheme.json", Some((0, 0))),
    ("trivy/misconfigurations_and_secrets.json", Some((5, 0))),
    ("trivy/scheme_2_many_vulns.json", Some((5, 0))),
    ("trivy/scheme_2_no_vuln.json", Some((0, 0))),
    ("trivy/severity_prio.json", Some((2, 0))),
    ("trivy/upstream-alpine-310.json", Some((4, 0))),
    ("trivy/upstream-alpine-310.sarif", Some((4, 0))),
    ("trivy/upstream-alpine-39-skip.json", Some((0, 0))),
    ("trivy/upstream-debian-buster.json", Some((2, 0))),
    ("trivy/upstream-dockerfile.json", Some((1, 0))),
    ("trivy/upstream-gomod-vex.json", Some((4, 0))),
    ("trivy/upstream-helm_testchart.json", Some((6, 0))),
    (
        "trivy/upstream-legacy-2021-07-alpine-310.json",
        Some((8, 0)),
    ),
    ("trivy/upstream-npm-ubuntu-severity.json", Some((1, 0))),
    ("trivy/upstream-npm.json", Some((1, 0))),
    ("trivy/upstream-pipenv.json", Some((2, 0))),
    ("trivy/upstream-poetry.json", Some((1, 0))),
    ("trivy/upstream-spring4shell-jre8.json", Some((1, 0))),
    ("trufflehog/v2_many_vulns.json", Some((64, 0))),
    ("trufflehog/v3_git.json", Some((4, 0))),
    ("trufflehog/v3_github.json", Some((4, 0))),
    ("trufflehog3/issue_6999.json", Some((1, 0))),
    ("trufflehog3/many_vulns2_legacy.json", Some((95, 0))),
    ("trufflehog3/many_vulns_current.json", Some((4, 0))),
    ("trufflehog3/many_vulns_legacy.json", Some((32, 0))),
];

fn corpus_files(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    for tool in std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
    {
        for file in std::fs::read_dir(tool.path()).unwrap().flatten() {
            files.push(file.path().strip_prefix(dir).unwrap().display().to_string());
        }
    }
    files.sort();
    files
}

#[test]
fn every_corpus_report_parses_with_its_pinned_count() {
    let Some(dir) = support::shared_or_skip("corpus/scans") else {
        return;
    };
    let listed: Vec<String> = CORPUS.iter().map(|(f, _)| f.to_string()).collect();
    assert_eq!(
        corpus_files(&dir),
        listed,
        "every corpus file is pinned here"
    );
    let paths = RepoPaths::new(Path::new("/nonexistent-root"));
    let mut failures = Vec::new();
    for (file, expected) in CORPUS {
        let mut interner = Interner::default();
        let result = parse_file(&dir.join(file), None, &paths, &mut interner);
        match (expected, result) {
            (Some((findings, issues)), Ok(parsed)) => {
                if (parsed.findings.len(), parsed.issues.len()) != (*findings, *issues) {
                    failures.push(format!(
                        "{file}: {} findings / {} issues, pinned {findings} / {issues}",
                        parsed.findings.len(),
                        parsed.issues.len()
                    ));
                }
            }
            (None, Err(e)) => assert!(e.to_string().contains(file), "{e}"),
            (expected, got) => failures.push(format!("{file}: expected {expected:?}, got {got:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn findings_carry_the_documented_severity_and_identity_fields() {
    let Some(dir) = support::shared_or_skip("corpus/scans") else {
        return;
    };
    let paths = RepoPaths::new(Path::new("/nonexistent-root"));
    let mut interner = Interner::default();
    let parse = |file: &str, interner: &mut Interner| {
        parse_file(&dir.join(file), None, &paths, interner).unwrap()
    };
    let semgrep = parse("semgrep/generated-semgrep-1.185.0.json", &mut interner);
    assert!(
        semgrep
            .findings
            .iter()
            .all(|f| f.tool_fingerprint.is_none()),
        "`requires login` is no id"
    );
    assert!(
        semgrep.findings.iter().all(|f| !f.rule.contains('.')),
        "rule-directory prefix removed"
    );
    let from_sarif = parse("semgrep/generated-semgrep-1.185.0.sarif", &mut interner);
    let rules = |p: &deploy_tcb::scan::model::Parsed| {
        let mut r: Vec<(String, Option<u32>, String)> = p
            .findings
            .iter()
            .map(|f| (f.rule.to_string(), f.start_line(), f.severity.to_string()))
            .collect();
        r.sort();
        r
    };
    assert_eq!(
        rules(&semgrep),
        rules(&from_sarif),
        "semgrep JSON and SARIF of one run agree"
    );
    let trivy = parse("trivy/cvss_severity_source.json", &mut interner);
    assert!(
        trivy
            .findings
            .iter()
            .all(|f| f.package.is_some() && f.ids[0].starts_with("CVE-"))
    );
    let skipped = parse(
        "pip_audit/generated-pip-audit-2.10.1-all-skipped-offline.json",
        &mut interner,
    );
    assert!(
        skipped.issues[0].message.contains("not audited"),
        "skipped is not clean"
    );
    let leaks = parse("gitleaks/gitleaks8_many.json", &mut interner);
    let text = serde_json::to_string(&leaks.findings).unwrap();
    assert!(
        !text.contains("secretAWSsecret"),
        "a secret never reaches a finding"
    );
}

fn run_scan(args: &[&str], cwd: &Path, env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(support::binary());
    command.arg("security-scan").args(args).current_dir(cwd);
    for var in [
        "GITHUB_OUTPUT",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_ACTIONS",
        "GITHUB_WORKSPACE",
    ] {
        command.env_remove(var);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

/// A report large enough that the findings store writes most records to its temporary file:
/// 20,000 results, one in ten a shell call both bandit and semgrep flag, so deduplication
/// merges into records already written out.
fn large_report() -> Value {
    let result = |rule: &str, path: String, line: u32, i: u32| {
        serde_json::json!({"ruleId": rule, "level": "warning",
            "message": {"text": format!("finding {i}: {}", "detail ".repeat(8))},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": path},
                "region": {"startLine": line}}}]})
    };
    let (mut bandit, mut semgrep) = (Vec::new(), Vec::new());
    for i in 0..20_000u32 {
        match i % 20 {
            // Bandit and semgrep flag the same shell call: one problem.
            0 => bandit.push(result(
                "B602",
                format!("src/shell{}.py", i % 7),
                i / 20 + 1,
                i,
            )),
            10 => semgrep.push(result(
                "subprocess-shell-true",
                format!("src/shell{}.py", (i - 10) % 7),
                i / 20 + 1,
                i,
            )),
            _ => bandit.push(result("B105", format!("src/m{}.py", i % 50), i + 1, i)),
        }
    }
    serde_json::json!({"version": "2.1.0", "runs": [
        {"tool": {"driver": {"name": "bandit"}}, "results": bandit},
        {"tool": {"driver": {"name": "semgrep"}}, "results": semgrep}
    ]})
}

#[test]
fn without_a_writable_temporary_directory_the_findings_stay_in_memory_and_nothing_changes() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("large.sarif");
    std::fs::write(&report, large_report().to_string()).unwrap();
    let scan = |name: &str, tmpdir: &Path| {
        let json = dir.path().join(format!("{name}.json"));
        let sarif = dir.path().join(format!("{name}.sarif"));
        let output = run_scan(
            &[
                "--reports",
                report.to_str().unwrap(),
                "--fail-on",
                "none",
                "--sarif-output",
                sarif.to_str().unwrap(),
                "--json-output",
                json.to_str().unwrap(),
            ],
            dir.path(),
            &[("TMPDIR", tmpdir)],
        );
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        (std::fs::read(json).unwrap(), std::fs::read(sarif).unwrap())
    };
    let spilled = scan("spilled", dir.path());
    let in_memory = scan("in-memory", Path::new("/nonexistent/tmp"));
    assert!(spilled == in_memory, "the same outputs either way");
    let summary = &serde_json::from_slice::<Value>(&spilled.0).unwrap()["summary"];
    assert_eq!(
        (summary["raw"].as_u64(), summary["unique"].as_u64()),
        (Some(20_000), Some(19_000))
    );
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The merged SARIF is valid against the OASIS SARIF 2.1.0 schema.
fn assert_schema_valid(sarif: &Path) {
    let Some(schema) = support::shared_or_skip("spec/sarif/sarif-schema-2.1.0.json") else {
        return;
    };
    let validator = jsonschema::validator_for(&read_json(&schema)).unwrap();
    let instance = read_json(sarif);
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .take(10)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{}: {}",
        sarif.display(),
        errors.join("\n")
    );
}

/// And GitHub's ingestion rules (`sarif-multitool validate --rule-kind Sarif;Gh;Ghas`), judged
/// by its output: no error and no warning.
fn assert_multitool_clean(sarif: &Path) {
    if !support::tool_or_skip("sarif-multitool") {
        return;
    }
    let report = sarif.with_extension("validation.sarif");
    let _ = std::fs::remove_file(&report);
    let status = Command::new("sarif-multitool")
        .args(["validate", "--rule-kind", "Sarif;Gh;Ghas", "-o"])
        .arg(&report)
        .arg(sarif)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stdout)
    );
    let results = read_json(&report)["runs"][0]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let problems: Vec<String> = results
        .iter()
        .map(|r| format!("{} {}: {}", r["ruleId"], r["level"], r["message"]))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_whole_corpus_merges_into_one_valid_sarif() {
    let Some(dir) = support::shared_or_skip("corpus/scans") else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let reports: Vec<String> = CORPUS
        .iter()
        .filter(|(_, expected)| expected.is_some())
        .map(|(file, _)| dir.join(file).display().to_string())
        .collect();
    let sarif = out.path().join("merged.sarif");
    let json = out.path().join("findings.json");
    let output = run_scan(
        &[
            "--reports",
            &reports.join("\n"),
            "--fail-on",
            "none",
            "--scanner-errors",
            "warn",
            "--sarif-output",
            sarif.to_str().unwrap(),
            "--json-output",
            json.to_str().unwrap(),
        ],
        out.path(),
        &[],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = read_json(&json);
    let summary = &report["summary"];
    let pinned: usize = CORPUS.iter().filter_map(|(_, e)| e.map(|(n, _)| n)).sum();
    assert_eq!(summary["raw"], pinned);
    assert!(summary["unique"].as_u64().unwrap() < summary["raw"].as_u64().unwrap());
    let log = read_json(&sarif);
    let runs = log["runs"].as_array().unwrap();
    let ids: std::collections::HashSet<&str> = runs
        .iter()
        .map(|r| r["automationDetails"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids.len(),
        runs.len(),
        "one run per tool, each its own category"
    );
    for run in runs {
        for rule in run["tool"]["driver"]["rules"].as_array().unwrap() {
            for field in ["shortDescription", "fullDescription", "help"] {
                assert!(!rule[field]["text"].as_str().unwrap().is_empty(), "{rule}");
            }
            let score: f64 = rule["properties"]["security-severity"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((0.0..=10.0).contains(&score));
        }
        for result in run["results"].as_array().unwrap() {
            let uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap();
            assert!(
                !uri.starts_with('/') && !uri.starts_with("file:") && !uri.starts_with("./"),
                "{uri}"
            );
            assert!(
                result["partialFingerprints"]["primaryLocationLineHash"]
                    .as_str()
                    .unwrap()
                    .contains(':')
            );
        }
    }
    assert_schema_valid(&sarif);

    // GitHub's rules take the multitool minutes on the whole corpus: check one report of each
    // format family there (the bench script checks the whole corpus).
    let mut seen = std::collections::HashSet::new();
    let sample: Vec<String> = reports
        .iter()
        .filter(|r| seen.insert(Path::new(r).parent().map(Path::to_path_buf)))
        .cloned()
        .collect();
    let small = out.path().join("sample.sarif");
    let output = run_scan(
        &[
            "--reports",
            &sample.join("\n"),
            "--fail-on",
            "none",
            "--scanner-errors",
            "warn",
            "--sarif-output",
            small.to_str().unwrap(),
        ],
        out.path(),
        &[],
    );
    assert!(output.status.success());
    assert_multitool_clean(&small);
}

/// Runs one scanner for the sample-app test; a non-zero exit is normal when it finds problems.
fn scanner(
    program: &str,
    args: &[&str],
    cwd: &Path,
    stdout_to: Option<&Path>,
) -> std::thread::JoinHandle<()> {
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(cwd)
        .env("SEMGREP_SEND_METRICS", "off")
        .env("SEMGREP_ENABLE_VERSION_CHECK", "0")
        .env("BC_SKIP_MAPPING", "TRUE");
    let stdout_to = stdout_to.map(Path::to_path_buf);
    std::thread::spawn(move || {
        let output = command.output().unwrap();
        if let Some(path) = stdout_to {
            std::fs::write(path, &output.stdout).unwrap();
        }
    })
}

fn finding_at<'a>(findings: &'a [Value], path: &str, line: u64, tool: &str) -> Vec<&'a Value> {
    findings
        .iter()
        .filter(|f| f["path"] == path && f["region"]["start_line"] == line && f["tool"] == tool)
        .collect()
}

#[test]
fn fresh_output_of_real_scanners_on_the_sample_app_is_aggregated_and_deduplicated() {
    let Some(app) = support::shared_or_skip("corpus/scans-sample-app") else {
        return;
    };
    if !["bandit", "semgrep", "checkov", "hadolint"]
        .iter()
        .all(|t| support::tool_or_skip(t))
    {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let at = |name: &str| out.path().join(name);
    let (bandit, semgrep) = (at("bandit.json"), at("semgrep.json"));
    let runs = [
        scanner(
            "bandit",
            &[
                "-r",
                "app",
                "-f",
                "json",
                "-q",
                "-o",
                bandit.to_str().unwrap(),
            ],
            &app,
            None,
        ),
        scanner(
            "semgrep",
            &[
                "scan",
                "--config",
                "rules",
                "--metrics=off",
                "--json",
                "-q",
                "-o",
                semgrep.to_str().unwrap(),
                ".",
            ],
            &app,
            None,
        ),
        scanner(
            "checkov",
            &[
                "-d",
                ".",
                "-o",
                "json",
                "--quiet",
                "--compact",
                "--skip-download",
            ],
            &app,
            Some(&at("checkov.json")),
        ),
        scanner(
            "hadolint",
            &["-f", "json", "Dockerfile"],
            &app,
            Some(&at("hadolint.json")),
        ),
    ];
    runs.into_iter().for_each(|r| r.join().unwrap());

    let (sarif, json) = (at("merged.sarif"), at("findings.json"));
    let (outputs, summary) = (at("outputs.txt"), at("summary.md"));
    let pattern = format!("{}/*.json", out.path().display());
    let output = run_scan(
        &[
            "--reports",
            &pattern,
            "--sarif-output",
            sarif.to_str().unwrap(),
            "--json-output",
            json.to_str().unwrap(),
        ],
        &app,
        &[
            ("GITHUB_WORKSPACE", &app),
            ("GITHUB_OUTPUT", &outputs),
            ("GITHUB_STEP_SUMMARY", &summary),
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "high findings fail the default gate: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = read_json(&json);
    let by_tool = &report["summary"]["by_tool"];
    for tool in ["bandit", "semgrep", "checkov", "hadolint"] {
        assert!(
            by_tool[tool].as_u64().unwrap() > 0,
            "{tool} contributed: {by_tool}"
        );
    }
    let findings = report["findings"].as_array().unwrap();
    let raw = report["summary"]["raw"].as_u64().unwrap() as usize;
    assert!(
        raw - findings.len() >= 15,
        "cross-tool duplicates merged: {raw} → {}",
        findings.len()
    );

    let shell = finding_at(findings, "app/main.py", 16, "bandit");
    assert_eq!(shell.len(), 1);
    assert_eq!(
        shell[0]["also_reported_by"][0],
        "semgrep:subprocess-shell-true"
    );
    let requests = finding_at(findings, "app/main.py", 37, "bandit");
    assert_eq!(
        requests.len(),
        2,
        "B501 (no TLS verification) and B113 (no timeout) are two problems"
    );
    let reported_by = |f: &Value, label: &str| {
        f["also_reported_by"]
            .as_array()
            .is_some_and(|a| a.iter().any(|t| t == label))
    };
    let latest_tag = finding_at(findings, "Dockerfile", 1, "checkov")
        .into_iter()
        .any(|f| f["rule"] == "CKV_DOCKER_7" && reported_by(f, "hadolint:DL3007"));
    assert!(
        latest_tag,
        "checkov CKV_DOCKER_7 and hadolint DL3007 are one finding"
    );
    assert!(findings.iter().all(|f| {
        f["path"]
            .as_str()
            .is_none_or(|p| !p.starts_with('/') && !p.starts_with("./"))
    }));

    let outputs = std::fs::read_to_string(outputs).unwrap();
    assert!(
        outputs.contains("verdict=failed\n") && outputs.contains(&format!("raw_findings={raw}\n")),
        "{outputs}"
    );
    let summary = std::fs::read_to_string(summary).unwrap();
    assert!(
        summary.contains("## Security scan") && summary.contains("duplicates merged"),
        "{summary}"
    );
    assert_schema_valid(&sarif);
    assert_multitool_clean(&sarif);
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const BANDIT_ONE_HIGH: &str = r#"{"errors": [], "generated_at": "x", "metrics": {}, "results": [
 {"filename": "app.py", "line_number": 3, "issue_severity": "HIGH", "issue_confidence": "HIGH",
  "issue_text": "subprocess call with shell=True", "test_id": "B602", "test_name": "subprocess_popen_with_shell_equals_true"}]}"#;

#[test]
fn the_gate_exit_codes_and_baseline_behave_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let report = write(d, "bandit.json", BANDIT_ONE_HIGH);
    let report = report.to_str().unwrap();
    let sarif = d.join("out.sarif");
    let sarif = sarif.to_str().unwrap();
    let json = d.join("out.json");

    let failed = run_scan(&["--reports", report, "--sarif-output", sarif], d, &[]);
    assert_eq!(failed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&failed.stderr).contains("1 high finding(s) at or above high"));
    let passed = run_scan(
        &[
            "--reports",
            report,
            "--fail-on",
            "critical",
            "--sarif-output",
            sarif,
        ],
        d,
        &[],
    );
    assert_eq!(passed.status.code(), Some(0));
    let over_max = run_scan(
        &[
            "--reports",
            report,
            "--fail-on",
            "none",
            "--max-high",
            "0",
            "--sarif-output",
            sarif,
        ],
        d,
        &[],
    );
    assert_eq!(over_max.status.code(), Some(1));

    let args = [
        "--reports",
        report,
        "--sarif-output",
        sarif,
        "--json-output",
        json.to_str().unwrap(),
    ];
    run_scan(&args, d, &[]);
    let fingerprint = read_json(&json)["findings"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    let baseline = write(
        d,
        "baseline.yml",
        &format!(
            "accepted:\n  - fingerprint: {fingerprint}\n    reason: input is a constant\n    expires: 2999-01-01\n"
        ),
    );
    let mut with_baseline = args.to_vec();
    with_baseline.extend(["--new-only", "--baseline", baseline.to_str().unwrap()]);
    let accepted = run_scan(&with_baseline, d, &[]);
    assert_eq!(
        accepted.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&accepted.stderr)
    );
    assert_eq!(
        read_json(&json)["findings"][0]["accepted"],
        "input is a constant (until 2999-01-01)"
    );

    write(
        d,
        "baseline.yml",
        &format!(
            "accepted:\n  - fingerprint: {fingerprint}\n    reason: old\n    expires: 2001-01-01\n"
        ),
    );
    let expired = run_scan(&with_baseline, d, &[]);
    assert_eq!(
        expired.status.code(),
        Some(1),
        "an expired entry no longer suppresses"
    );
    assert_eq!(
        read_json(&json)["summary"]["baseline"]["expired"][0]["reason"],
        "old"
    );

    write(
        d,
        "baseline.yml",
        "accepted:\n  - id: B602\n    expires: 2999-01-01\n",
    );
    let invalid = run_scan(&with_baseline, d, &[]);
    assert_eq!(invalid.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&invalid.stderr).contains("reason"));
    let no_baseline = run_scan(
        &["--reports", report, "--new-only", "--sarif-output", sarif],
        d,
        &[],
    );
    assert_eq!(no_baseline.status.code(), Some(2));
}

#[test]
fn unknown_files_and_failed_scanners_are_never_clean() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sarif = d.join("out.sarif");
    let sarif = sarif.to_str().unwrap();
    let text = write(d, "notes.txt", "Run started: nothing to see");
    let unknown = run_scan(
        &["--reports", text.to_str().unwrap(), "--sarif-output", sarif],
        d,
        &[],
    );
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("notes.txt"));

    let skipped = write(
        d,
        "pip-audit.json",
        r#"{"dependencies": [{"name": "flask", "skip_reason": "not found"}], "fixes": []}"#,
    );
    let skipped = skipped.to_str().unwrap();
    let strict = run_scan(&["--reports", skipped, "--sarif-output", sarif], d, &[]);
    assert_eq!(strict.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&strict.stderr).contains("incomplete scan: pip-audit"));
    let lenient = run_scan(
        &[
            "--reports",
            skipped,
            "--scanner-errors",
            "warn",
            "--sarif-output",
            sarif,
        ],
        d,
        &[],
    );
    assert_eq!(lenient.status.code(), Some(0));

    let missing = format!("{}/never/*.json", d.display());
    let glob = run_scan(
        &[
            "--reports",
            &format!("{skipped}\n{missing}"),
            "--scanner-errors",
            "fail",
            "--sarif-output",
            sarif,
        ],
        d,
        &[],
    );
    assert!(String::from_utf8_lossy(&glob.stderr).contains("incomplete scan"));
    let forced = run_scan(
        &[
            "--reports",
            &format!("trivy:{skipped}"),
            "--sarif-output",
            sarif,
        ],
        d,
        &[],
    );
    assert_eq!(
        forced.status.code(),
        Some(2),
        "forcing the wrong tool is refused"
    );
    let empty = write(d, "empty.json", "");
    let none = run_scan(
        &[
            "--reports",
            &format!("semgrep:{}", empty.display()),
            "--sarif-output",
            sarif,
        ],
        d,
        &[],
    );
    assert_eq!(
        none.status.code(),
        Some(0),
        "an empty report is no findings"
    );
}

/// JSON built from the field names the parsers look for, with values of any type.
fn scannerish_json() -> impl Strategy<Value = Value> {
    const KEYS: &[&str] = &[
        "runs",
        "results",
        "errors",
        "version",
        "$schema",
        "tool",
        "driver",
        "rules",
        "ruleId",
        "locations",
        "physicalLocation",
        "region",
        "startLine",
        "message",
        "text",
        "SchemaVersion",
        "Results",
        "Vulnerabilities",
        "VulnerabilityID",
        "PkgName",
        "CVSS",
        "matches",
        "vulnerability",
        "artifact",
        "check_type",
        "failed_checks",
        "file_line_range",
        "dependencies",
        "vulns",
        "advisories",
        "auditReportVersion",
        "via",
        "line",
        "code",
        "level",
        "file",
        "check_id",
        "path",
        "start",
        "extra",
        "severity",
        "filename",
        "line_number",
        "test_id",
        "plugins_used",
        "report_meta",
        "vulnerabilities",
        "packageManager",
        "config",
        "osv",
        "finding",
        "trace",
        "ClusterName",
        "Resources",
        "RuleID",
        "StartLine",
        "offender",
        "rule",
        "SourceMetadata",
        "stringsFound",
        "invocations",
        "toolExecutionNotifications",
        "identifiers",
        "Vulns",
        "scan_results",
        "meta",
        "skip_reason",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-zA-Z0-9 ./:_-]{0,12}".prop_map(Value::from),
        Just(Value::from("CVE-2021-1")),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|pairs| {
                Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

/// Parses, deduplicates, fingerprints and renders, which must never panic.
fn exercise(bytes: &[u8], forced: Option<&str>) {
    let paths = RepoPaths::new(Path::new("/repo"));
    let mut interner = Interner::default();
    if let Ok(parsed) = parse_bytes("input.json", bytes, forced, &paths, &mut interner) {
        let mut findings = deploy_tcb::scan::dedupe::dedupe(parsed.findings).findings;
        let mut sources = deploy_tcb::scan::fingerprint::SourceHashes::new("/nonexistent");
        findings.assign_identities(&mut sources);
        deploy_tcb::scan::render::sarif::write(&findings, std::io::sink()).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn parsers_never_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        exercise(&bytes, None);
    }

    #[test]
    fn parsers_never_panic_on_scanner_shaped_json(value in scannerish_json(), tool in prop::sample::select(vec![None, Some("trivy"), Some("semgrep"), Some("sarif")])) {
        exercise(value.to_string().as_bytes(), tool);
        exercise(format!("[{value}]").as_bytes(), tool);
        exercise(format!("{value}\n{value}").as_bytes(), tool);
    }

    #[test]
    fn parsers_never_panic_on_damaged_corpus_files(index in 0usize..CORPUS.len(), cut in any::<prop::sample::Index>(), flip in any::<prop::sample::Index>(), byte in any::<u8>()) {
        if let Some(dir) = support::shared_dir() {
            let mut bytes = std::fs::read(dir.join("corpus/scans").join(CORPUS[index].0)).unwrap();
            if !bytes.is_empty() {
                let at = flip.index(bytes.len());
                bytes[at] = byte;
                bytes.truncate(cut.index(bytes.len() + 1).max(1));
            }
            exercise(&bytes, None);
        }
    }
}

#[test]
fn a_token_reports_a_check_run_the_pr_comment_and_the_sarif_upload() {
    use crate::support::fake_github::{FakeGithub, TOKEN};
    let Some(spec) = support::shared_or_skip("spec/github/rest-subset.openapi.json") else {
        return;
    };
    let fake = FakeGithub::start(&spec);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let report = write(d, "bandit.json", BANDIT_ONE_HIGH);
    write(
        d,
        "app.py",
        "import subprocess\n\nsubprocess.call(x, shell=True)\n",
    );
    let sarif = d.join("out.sarif");
    let sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
    let mut command = Command::new(support::binary());
    command
        .args([
            "security-scan",
            "--reports",
            report.to_str().unwrap(),
            "--upload",
            "--sarif-output",
        ])
        .arg(&sarif)
        .args(["--github-token", TOKEN])
        .current_dir(d)
        .env("GITHUB_WORKSPACE", d)
        .env("GITHUB_API_URL", fake.url())
        .env("GITHUB_REPOSITORY", fake.repository())
        .env("GITHUB_SHA", sha)
        .env("GITHUB_REF", "refs/pull/7/merge")
        .env("GITHUB_RUN_ID", "4242")
        .env_remove("GITHUB_EVENT_PATH")
        .env_remove("GITHUB_OUTPUT")
        .env_remove("GITHUB_STEP_SUMMARY");
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "the verdict still decides: {stderr}"
    );
    assert!(!stderr.contains("GitHub reporting failed"), "{stderr}");
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains(TOKEN),
        "the token is never printed"
    );

    let created = fake.requests_for("checks/create");
    assert_eq!(created.len(), 1);
    let body = created[0].body.clone().unwrap_or_default();
    assert_eq!(body["conclusion"], "failure", "{body}");
    assert_eq!(body["head_sha"], sha);
    let annotations = body["output"]["annotations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(annotations.len(), 1, "one located finding, one annotation");
    assert_eq!(annotations[0]["path"], "app.py");
    assert_eq!(annotations[0]["start_line"], 3);
    assert_eq!(annotations[0]["annotation_level"], "failure");
    let comments = fake.comment_bodies(7);
    assert!(
        comments
            .iter()
            .any(|c| c.contains("Security scan") && c.contains("1 high")),
        "{comments:?}"
    );
    assert_eq!(fake.sarif_uploads().len(), 1, "uploaded to code scanning");
    fake.assert_no_violations();
}
