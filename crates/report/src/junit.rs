//! JUnit XML for CI: one test case per check and per claim.

use std::fmt::Write;

use crate::result::RunResult;
use crate::verdict::ClaimStatus;

use crate::escape::markup as xml;

/// Renders the verdict as a JUnit test suite.
pub fn render(r: &RunResult) -> String {
    let failed_checks = r.verdict.checks.iter().filter(|c| !c.passed()).count();
    let failed_claims = r
        .verdict
        .claims
        .iter()
        .filter(|c| c.status == ClaimStatus::NotValidated)
        .count();
    let skipped = r
        .verdict
        .claims
        .iter()
        .filter(|c| c.status == ClaimStatus::Inconclusive)
        .count();
    let tests = r.verdict.checks.len() + r.verdict.claims.len();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuite name=\"cliffload.{}\" tests=\"{tests}\" failures=\"{}\" skipped=\"{skipped}\" time=\"{:.3}\" timestamp=\"{}\">",
        xml(&r.scenario),
        failed_checks + failed_claims,
        r.duration_s,
        xml(&r.started_at)
    );
    for c in &r.verdict.checks {
        let _ = write!(
            out,
            "  <testcase classname=\"cliffload.{}.checks\" name=\"{}\">",
            xml(&r.scenario),
            xml(&c.name)
        );
        if !c.passed() {
            // The text in the attribute (Jenkins) and the element (GitLab).
            let text = format!(
                "{} {}: {}, expected {}",
                c.status.word(),
                c.name,
                c.actual,
                c.expected
            );
            let _ = write!(
                out,
                "<failure message=\"{}\">{}</failure>",
                xml(&text),
                xml(&text)
            );
        }
        out.push_str("</testcase>\n");
    }
    for c in &r.verdict.claims {
        let _ = write!(
            out,
            "  <testcase classname=\"cliffload.{}.claims\" name=\"{}\">",
            xml(&r.scenario),
            xml(&c.name)
        );
        match c.status {
            ClaimStatus::Validated => {}
            ClaimStatus::NotValidated => {
                let _ = write!(
                    out,
                    "<failure message=\"NOT VALIDATED: {}\"/>",
                    xml(&c.detail)
                );
            }
            ClaimStatus::Inconclusive => {
                let _ = write!(
                    out,
                    "<skipped message=\"INCONCLUSIVE: {}\"/>",
                    xml(&c.detail)
                );
            }
        }
        out.push_str("</testcase>\n");
    }
    out.push_str("</testsuite>\n");
    out
}

/// One JUnit file for a whole suite: each scenario's test suite (from
/// [`render`]) inside `<testsuites>`, and a suite with an `<error>` for each
/// scenario that could not run (`errors`: name and why).
pub fn combine(suites: &[String], errors: &[(String, String)]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"cliffload\">\n",
    );
    for s in suites {
        for line in s.lines().filter(|l| !l.starts_with("<?xml")) {
            let _ = writeln!(out, "{line}");
        }
    }
    for (name, why) in errors {
        let _ = writeln!(
            out,
            "<testsuite name=\"cliffload.{}\" tests=\"1\" errors=\"1\"><testcase classname=\"cliffload.{}\" name=\"run\"><error message=\"{}\">{}</error></testcase></testsuite>",
            xml(name),
            xml(name),
            xml(why),
            xml(why)
        );
    }
    out.push_str("</testsuites>\n");
    out
}
