//! The course around the lesson scripts is whole: every lesson has its student and instructor
//! sheets, every question an answer, every script its self-check and a test that runs it
//! (`scenarios.rs`).

use std::path::Path;

use crate::common::TestDir;

/// The numbers of the numbered items (`1. …` at the start of a line) in the markdown section
/// headed `## {heading}`, in order; `None` if there is no such section. An item whose text is
/// empty is reported as number 0, so it cannot pass for an answer.
fn numbered_items(markdown: &str, heading: &str) -> Option<Vec<u32>> {
    let mut lines = markdown
        .lines()
        .skip_while(|l| l.trim_end() != format!("## {heading}"));
    lines.next()?;
    let items = lines
        .take_while(|l| !l.starts_with("## "))
        .filter_map(|l| {
            let (number, text) = l.split_once(". ")?;
            let number: u32 = number.parse().ok()?;
            Some(if text.trim().is_empty() { 0 } else { number })
        })
        .collect();
    Some(items)
}

/// The sections each sheet must have, besides the numbered questions and answers.
const STUDENT_SECTIONS: [&str; 4] = ["Objectives", "What to run", "What to look for", "Questions"];
const INSTRUCTOR_SECTIONS: [&str; 4] = [
    "Timing",
    "Expected output",
    "Answers",
    "Common misconceptions",
];

/// What is missing from the course in `scenarios`: each `NN-name.sh` needs `NN-name.student.md`
/// with 3 to 6 questions numbered 1, 2, … under `## Questions`, and `NN-name.instructor.md` with
/// an answer of the same number for each under `## Answers` (and the other sections above); each
/// script ends with its check (`pass` on its last line, after at least one `fail`), and `runner`
/// (the source of the tests that run the lessons) names it.
fn course_problems(scenarios: &Path, runner: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut scripts: Vec<String> = std::fs::read_dir(scenarios)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| {
            let b = name.as_bytes();
            b.len() > 6
                && b[0].is_ascii_digit()
                && b[1].is_ascii_digit()
                && b[2] == b'-'
                && name.ends_with(".sh")
        })
        .collect();
    scripts.sort();
    if scripts.is_empty() {
        problems.push(format!("no lesson scripts in {}", scenarios.display()));
    }
    for script in &scripts {
        let lesson = script.trim_end_matches(".sh");
        let body = std::fs::read_to_string(scenarios.join(script)).unwrap();
        let last = body.lines().rev().find(|l| !l.trim().is_empty());
        if !last.is_some_and(|l| l.starts_with("pass ")) || !body.contains("fail \"") {
            problems.push(format!(
                "{script} does not end with its self-check (fail …, then pass …)"
            ));
        }
        if !runner.contains(&format!("\"{script}\"")) {
            problems.push(format!("no test runs {script}"));
        }
        let mut sheet = |kind: &str, sections: &[&str]| {
            let name = format!("{lesson}.{kind}.md");
            let Ok(text) = std::fs::read_to_string(scenarios.join(&name)) else {
                problems.push(format!("{name} is missing"));
                return None;
            };
            for section in sections {
                if !text
                    .lines()
                    .any(|l| l.trim_end() == format!("## {section}"))
                {
                    problems.push(format!("{name} has no ## {section} section"));
                }
            }
            Some(text)
        };
        let student = sheet("student", &STUDENT_SECTIONS);
        let instructor = sheet("instructor", &INSTRUCTOR_SECTIONS);
        let questions = student
            .as_deref()
            .and_then(|s| numbered_items(s, "Questions"));
        let answers = instructor
            .as_deref()
            .and_then(|s| numbered_items(s, "Answers"));
        if let Some(q) = &questions {
            let n = q.len() as u32;
            if !(3..=6).contains(&n) || *q != (1..=n).collect::<Vec<_>>() {
                problems.push(format!(
                    "{lesson}.student.md: the questions must be numbered 1..n, n from 3 to 6, not {q:?}"
                ));
            }
        }
        if let (Some(q), Some(a)) = (&questions, &answers) {
            if q != a {
                problems.push(format!(
                    "{lesson}.instructor.md answers {a:?}, the student sheet asks {q:?}"
                ));
            }
        }
    }
    problems
}

#[test]
fn the_course_is_whole() {
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let problems = course_problems(&scenarios, include_str!("scenarios.rs"));
    assert!(
        problems.is_empty(),
        "the course is not whole:\n{}",
        problems.join("\n")
    );
}

/// The check above fails on a course with holes: a missing sheet, too few questions, an
/// unanswered question, a script without its self-check, a lesson no test runs.
#[test]
fn the_course_check_finds_holes() {
    let dir = TestDir::new("course-holes");
    let write = |name: &str, text: &str| {
        dir.write(name, text.as_bytes());
    };
    let check = "[ -f x ] || fail \"no x\"\npass \"x\"\n";
    let questions = "# s\n## Objectives\n## What to run\n1. run it\n## What to look for\n\n## Questions\n\n1. a?\n2. b?\n3. c?\n\n## Notes\n4. not a question\n";
    let answers = "# i\n## Timing\n## Expected output\n## Answers\n1. a\n2. b\n3. c\n\n## Common misconceptions\n";
    write("10-whole.sh", check);
    write("10-whole.student.md", questions);
    write("10-whole.instructor.md", answers);
    write("11-no-sheets.sh", check);
    write("12-two-questions.sh", check);
    write(
        "12-two-questions.student.md",
        &questions.replace("3. c?\n", ""),
    );
    write("12-two-questions.instructor.md", answers);
    write("13-unanswered.sh", check);
    write("13-unanswered.student.md", questions);
    write(
        "13-unanswered.instructor.md",
        &answers.replace("3. c\n", "3. \n"),
    );
    write("14-no-check.sh", "echo hello\n");
    write("14-no-check.student.md", questions);
    write(
        "14-no-check.instructor.md",
        &answers.replace("## Timing\n", ""),
    );
    let runner = r#""10-whole.sh" "11-no-sheets.sh" "12-two-questions.sh" "13-unanswered.sh""#;
    let problems = course_problems(dir.path(), runner);
    let expect = [
        "11-no-sheets.student.md is missing",
        "11-no-sheets.instructor.md is missing",
        "12-two-questions.student.md: the questions must be numbered",
        "12-two-questions.instructor.md answers [1, 2, 3], the student sheet asks [1, 2]",
        "13-unanswered.instructor.md answers [1, 2, 0]",
        "14-no-check.sh does not end with its self-check",
        "14-no-check.instructor.md has no ## Timing section",
        "no test runs 14-no-check.sh",
    ];
    for e in expect {
        assert!(
            problems.iter().any(|p| p.starts_with(e)),
            "missing {e:?} in {problems:#?}"
        );
    }
    assert!(
        !problems.iter().any(|p| p.contains("10-whole")),
        "{problems:#?}"
    );
    assert_eq!(problems.len(), expect.len(), "{problems:#?}");
}
