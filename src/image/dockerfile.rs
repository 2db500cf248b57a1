//! Just enough of the Dockerfile grammar to point at a line: instructions with the line they
//! start on (continuations, comments, the `escape` parser directive), grouped into stages, and
//! the step lines engines print while building (`Step 3/7 : COPY …` from Docker, `[2/3] STEP
//! 1/2: COPY …` from buildah/podman), so a failed step becomes an annotation on its line.

/// One instruction and where it starts (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub line: usize,
    /// The keyword, upper-cased: FROM, COPY, RUN…
    pub keyword: String,
    /// The instruction as one line: keyword and arguments, whitespace collapsed.
    pub text: String,
    /// Index of the stage (0-based, counted by FROM).
    pub stage: usize,
    /// Position within its stage (0 is the FROM).
    pub position: usize,
}

/// Parses a Dockerfile into instructions.
pub fn parse(source: &str) -> Vec<Instruction> {
    let escape = escape_char(source);
    let mut instructions = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    let mut in_directives = true;
    for (index, raw) in source.lines().enumerate() {
        let line = raw.trim();
        if in_directives && is_directive(line) {
            continue;
        }
        in_directives = false;
        // Docker skips comments and blank lines even inside a continued instruction.
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (body, continues) = match line.strip_suffix(escape) {
            Some(body) => (body, true),
            None => (line, false),
        };
        let entry = pending.get_or_insert_with(|| (index + 1, String::new()));
        entry.1.push(' ');
        entry.1.push_str(body);
        if !continues {
            let (start, text) = pending.take().unwrap_or_default();
            push_instruction(&mut instructions, start, &text);
        }
    }
    if let Some((start, text)) = pending {
        push_instruction(&mut instructions, start, &text);
    }
    instructions
}

fn is_directive(line: &str) -> bool {
    let Some(rest) = line.strip_prefix('#') else {
        return false;
    };
    let Some((key, _)) = rest.split_once('=') else {
        return false;
    };
    let key = key.trim().to_ascii_lowercase();
    matches!(key.as_str(), "escape" | "syntax" | "check")
}

fn escape_char(source: &str) -> char {
    for line in source.lines() {
        let line = line.trim();
        if !is_directive(line) {
            break;
        }
        let (key, value) = line[1..].split_once('=').unwrap_or_default();
        if key.trim().eq_ignore_ascii_case("escape") && value.trim() == "`" {
            return '`';
        }
    }
    '\\'
}

fn push_instruction(instructions: &mut Vec<Instruction>, line: usize, text: &str) {
    let text = normalize(text);
    if text.is_empty() {
        return;
    }
    let keyword = text
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let (stage, position) = match instructions.last() {
        _ if keyword == "FROM" => (
            instructions.iter().filter(|i| i.keyword == "FROM").count(),
            0,
        ),
        Some(last) => (last.stage, last.position + 1),
        None => (0, 0),
    };
    let text = match text.split_once(' ') {
        Some((_, args)) => format!("{keyword} {args}"),
        None => keyword.clone(),
    };
    instructions.push(Instruction {
        line,
        keyword,
        text,
        stage,
        position,
    });
}

/// Collapses runs of whitespace and upper-cases the keyword, so engine output compares equal.
pub fn normalize(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match collapsed.split_once(' ') {
        Some((keyword, args)) => format!("{} {args}", keyword.to_ascii_uppercase()),
        None => collapsed.to_ascii_uppercase(),
    }
}

/// A build step as an engine announces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// 1-based step number within the stage (buildah) or the whole build (Docker).
    pub number: usize,
    pub text: String,
}

/// Recognises `Step 3/7 : X` (Docker) and `[1/2] STEP 3/7: X` (buildah); `None` otherwise.
pub fn parse_step(line: &str) -> Option<Step> {
    let line = line.trim();
    let line = match line.strip_prefix('[') {
        Some(rest) => rest.split_once("] ")?.1,
        None => line,
    };
    let rest = line
        .strip_prefix("Step ")
        .or_else(|| line.strip_prefix("STEP "))?;
    let (counter, text) = rest.split_once(':')?;
    let number = counter.trim().split('/').next()?.parse().ok()?;
    Some(Step {
        number,
        text: normalize(text.trim()),
    })
}

/// The instruction an engine's step refers to: the one with the same text, preferring the one
/// at the step's position when the same text appears more than once.
pub fn locate<'a>(instructions: &'a [Instruction], step: &Step) -> Option<&'a Instruction> {
    let candidates: Vec<&Instruction> = instructions
        .iter()
        .filter(|i| i.text == step.text || expanded_equal(&i.text, &step.text))
        .collect();
    let global = instructions.get(step.number.wrapping_sub(1));
    candidates
        .iter()
        .find(|i| Some(**i) == global)
        .or_else(|| candidates.iter().find(|i| i.position + 1 == step.number))
        .or_else(|| candidates.first())
        .copied()
        .or_else(|| same_stage_name(instructions, &step.text))
}

/// buildah prints a later stage's FROM with the parent stage's image id in place of its
/// name (`FROM 12f08b… AS final`); the stage name still identifies the line.
fn same_stage_name<'a>(instructions: &'a [Instruction], text: &str) -> Option<&'a Instruction> {
    let stage_name = |t: &str| -> Option<String> {
        let words: Vec<&str> = t.split(' ').collect();
        match words.as_slice() {
            ["FROM", .., as_word, name] if as_word.eq_ignore_ascii_case("as") => {
                Some(name.to_ascii_lowercase())
            }
            _ => None,
        }
    };
    let wanted = stage_name(text)?;
    instructions
        .iter()
        .find(|i| i.keyword == "FROM" && stage_name(&i.text).as_deref() == Some(&wanted))
}

/// Engines print some instructions with build arguments already substituted; compare the
/// keyword and the shape instead when the texts differ only where a `$` was.
fn expanded_equal(written: &str, printed: &str) -> bool {
    if !written.contains('$') {
        return false;
    }
    let keyword = |t: &str| t.split(' ').next().unwrap_or_default().to_string();
    keyword(written) == keyword(printed)
        && written.split(' ').count() == printed.split(' ').count()
        && written
            .split(' ')
            .zip(printed.split(' '))
            .all(|(w, p)| w == p || w.contains('$'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "# syntax=docker/dockerfile:1\n\
        ARG BASE=scratch\n\
        FROM scratch AS base\n\
        # a comment\n\
        COPY a.txt \\\n\
        \x20    /a.txt\n\
        \n\
        FROM base AS final\n\
        copy   b.txt /b.txt\n\
        COPY missing /missing\n";

    #[test]
    fn instructions_know_their_line_and_stage() {
        let parsed = parse(SOURCE);
        let found: Vec<(usize, &str, usize, usize)> = parsed
            .iter()
            .map(|i| (i.line, i.text.as_str(), i.stage, i.position))
            .collect();
        assert_eq!(
            found,
            vec![
                (2, "ARG BASE=scratch", 0, 0),
                (3, "FROM scratch AS base", 0, 0),
                (5, "COPY a.txt /a.txt", 0, 1),
                (8, "FROM base AS final", 1, 0),
                (9, "COPY b.txt /b.txt", 1, 1),
                (10, "COPY missing /missing", 1, 2),
            ]
        );
    }

    #[test]
    fn backtick_escape_directive() {
        let found = parse("# escape=`\nFROM scratch\nCOPY a `\n  /a\n");
        assert_eq!(found[1].text, "COPY a /a");
        assert_eq!(found[1].line, 3);
    }

    #[test]
    fn steps_from_docker_and_buildah() {
        assert_eq!(
            parse_step("Step 3/7 : COPY a /a"),
            Some(Step {
                number: 3,
                text: "COPY a /a".into()
            })
        );
        assert_eq!(
            parse_step("[2/2] STEP 3/3: COPY missing /missing").map(|s| s.number),
            Some(3)
        );
        assert_eq!(parse_step("Successfully built 123"), None);
    }

    #[test]
    fn locates_the_failing_line() {
        let instructions = parse(SOURCE);
        let step = parse_step("[2/2] STEP 3/3: COPY missing /missing").unwrap();
        assert_eq!(locate(&instructions, &step).map(|i| i.line), Some(10));
        let docker = parse_step("Step 5/6 : COPY b.txt /b.txt").unwrap();
        assert_eq!(locate(&instructions, &docker).map(|i| i.line), Some(9));
        let from = parse_step("[2/2] STEP 1/3: FROM 12f08bcb33ae AS final").unwrap();
        assert_eq!(locate(&instructions, &from).map(|i| i.line), Some(8));
        let expanded = parse("FROM scratch\nARG F\nCOPY $F /x\n");
        let step = parse_step("STEP 3/3: COPY real.txt /x").unwrap();
        assert_eq!(locate(&expanded, &step).map(|i| i.line), Some(3));
    }
}
