use super::*;
use crate::diff::ALL_TASKS;
use crate::tests::run_with;

/// Run 12 at 1.0 against a result.json 30 % slower.
fn slower() -> Diff {
    Diff::of(
        (&run_with(1.0, 5), "run 12".into()),
        (&run_with(1.3, 5), "results/result.json".into()),
        5.0,
    )
}

/// The line of the text table for `task` and `figure`.
fn line<'a>(text: &'a str, task: &str, figure: &str) -> &'a str {
    text.lines()
        .find(|l| {
            let mut words = l.split_whitespace();
            l.starts_with("  ") && words.next() == Some(task) && words.next() == Some(figure)
        })
        .unwrap_or_else(|| panic!("no row {task} {figure}:\n{text}"))
}

#[test]
fn text_and_markdown_name_both_sides_and_the_worse_rows() {
    let d = slower();
    let text = text(&d);
    assert!(
        text.starts_with("before: run 12 · s · ")
            && text.contains("\nafter:  results/result.json · s · "),
        "{text}"
    );
    assert!(text.contains("2 users · passed"), "{text}");
    let p50 = line(&text, "s.ping", "p50");
    assert!(p50.ends_with('✗') && p50.contains("+29."), "{p50}");
    let last = text.lines().last().expect("a summary");
    assert!(
        last.contains("figures worse beyond the noise: s.ping p50 +29.")
            && last.contains("all tasks p50"),
        "{last}"
    );
    // About 100 columns, whatever the task is called.
    for l in text.lines().filter(|l| l.starts_with("  ")) {
        assert!(l.chars().count() <= 100, "{} wide: {l}", l.chars().count());
    }

    let md = markdown(&d);
    assert!(md.contains("| before | run 12 | s |"), "{md}");
    assert!(md.contains("| after | results/result.json | s |"), "{md}");
    let row = md
        .lines()
        .find(|l| l.starts_with("| s.ping | p50 |"))
        .unwrap_or_else(|| panic!("{md}"));
    assert!(row.ends_with("| ❌ worse |"), "{row}");
    assert!(
        md.contains(" figures worse beyond the noise: s.ping p50 +29."),
        "{md}"
    );
}

#[test]
fn an_unchanged_run_says_that_nothing_moved() {
    let d = Diff::of(
        (&run_with(1.0, 5), "a".into()),
        (&run_with(1.0, 5), "b".into()),
        5.0,
    );
    let text = text(&d);
    assert_eq!(
        text.lines().last(),
        Some("no figure changed beyond the noise (changes under 5% are not reported)")
    );
    assert!(
        text.lines()
            .filter(|l| l.starts_with("  "))
            .all(|l| !l.ends_with('✗') && !l.ends_with('✓')),
        "{text}"
    );
    assert!(html(&d).contains("<p class=\"verdict \">no change beyond the noise</p>"));
}

#[test]
fn marks_follow_the_verdicts_in_every_format() {
    let mut d = slower();
    let verdicts = [Change::Worse, Change::Better, Change::Same, Change::Unknown];
    let ping: Vec<usize> = (0..d.rows.len())
        .filter(|&i| d.rows[i].task == "s.ping")
        .collect();
    for (k, &i) in ping.iter().enumerate() {
        d.rows[i].verdict = verdicts[k % 4];
    }
    let (text, md, page) = (text(&d), markdown(&d), html(&d));
    for &i in &ping {
        let r = &d.rows[i];
        let label = figure_label(&r.figure);
        let l = line(&text, "s.ping", label);
        let (t, m, h) = match r.verdict {
            Change::Worse => ("✗", "| ❌ worse |", "<tr class=\"fail\">"),
            Change::Better => ("✓", "| ✅ better |", "<tr class=\"pass\">"),
            Change::Same => ("", "|  |", "<tr class=\"\">"),
            Change::Unknown => ("", "| ❔ not judged |", "<tr class=\"\">"),
        };
        assert_eq!(l.ends_with('✗'), t == "✗", "{l}");
        assert_eq!(l.ends_with('✓'), t == "✓", "{l}");
        let md_row = md
            .lines()
            .find(|x| x.starts_with(&format!("| s.ping | {label} |")))
            .unwrap_or_else(|| panic!("{md}"));
        assert!(md_row.ends_with(m), "{md_row}");
        let cell = format!("{h}<td>s.ping</td><td>{label}</td>");
        assert!(page.contains(&cell), "{cell} not in the page");
    }
    assert!(page.contains(&format!(
        "<tr class=\"fail total\"><td>{ALL_TASKS}</td><td>p50</td>"
    )));
}

#[test]
fn the_page_is_self_contained_and_escapes_a_hostile_task_name() {
    let d = slower();
    assert!(
        d.rows.iter().any(|r| r.task.contains("<script>")),
        "the fixture has one"
    );
    let page = html(&d);
    assert!(page.contains("<td>s.&lt;script&gt;alert(1)&lt;/script&gt;</td>"));
    for forbidden in [
        "<script", "<link", "<img", " src=\"", " href=\"", "url(", "@import",
    ] {
        assert!(!page.contains(forbidden), "{forbidden} in the page");
    }
    assert_eq!(page.matches("<svg").count(), 1, "the latency chart");
    assert!(
        page.contains("<p class=\"verdict fail\">6 figures worse</p>"),
        "p50, p90, p99 of s.ping and all tasks"
    );
    // A task without successes has no latency: a dash, not 0µs.
    let md = markdown(&d);
    let none = md
        .lines()
        .find(|l| l.contains("&lt;script&gt;") && l.contains("| p50 |"))
        .unwrap_or_else(|| panic!("{md}"));
    assert!(none.contains("| - | - | - |"), "{none}");
}
