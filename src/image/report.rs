//! Outputs and the job summary of a build: tags, digest, size and the layers by size.

use super::engine::HistoryItem;
use super::plan::BuildPlan;
use crate::error::Result;
use crate::runner::{Outputs, Summary};

/// What the engine reports about the built (and maybe pushed) image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    pub image_id: String,
    pub size: u64,
    /// The pushed manifest's digest; `None` when the image was not pushed.
    pub digest: Option<String>,
    /// (size in bytes, instruction), largest first.
    pub layers: Vec<(u64, String)>,
}

/// The layers that carry data, largest first; the instruction text is shortened for a table.
pub fn layers(history: &[HistoryItem]) -> Vec<(u64, String)> {
    let mut layers: Vec<(u64, String)> = history
        .iter()
        .filter(|h| h.size > 0)
        .map(|h| (h.size as u64, instruction(&h.created_by)))
        .collect();
    layers.sort_by_key(|layer| std::cmp::Reverse(layer.0));
    layers
}

/// `/bin/sh -c #(nop)  COPY file:ab… in /` reads better as `COPY file:ab… in /`.
fn instruction(created_by: &str) -> String {
    let text = created_by.trim();
    let text = text.strip_prefix("/bin/sh -c ").unwrap_or(text);
    let text = text.strip_prefix("#(nop)").unwrap_or(text).trim();
    let mut short: String = text.chars().take(120).collect();
    if text.chars().count() > 120 {
        short.push('…');
    }
    short
}

/// Bytes for people: 1536 → `1.5 KiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The `image` output: `repo@digest` once pushed, else the first `repo:tag`.
pub fn image_output(plan: &BuildPlan, built: &Built) -> String {
    match &built.digest {
        Some(digest) => format!("{}@{digest}", plan.image),
        None => plan.references()[0].clone(),
    }
}

/// The job summary's markdown.
pub fn summary(plan: &BuildPlan, built: &Built) -> Summary {
    let mut summary = Summary::new();
    let verb = if built.digest.is_some() {
        "Built and pushed"
    } else {
        "Built"
    };
    summary.heading(3, &format!("{verb} `{}`", plan.image));
    let mut facts = vec![
        vec![
            "Image".to_string(),
            format!("`{}`", image_output(plan, built)),
        ],
        vec!["Image ID".to_string(), format!("`{}`", built.image_id)],
        vec![
            "Size".to_string(),
            format!("{} ({} bytes)", human_size(built.size), built.size),
        ],
    ];
    if let Some(digest) = &built.digest {
        facts.insert(1, vec!["Digest".to_string(), format!("`{digest}`")]);
    }
    summary.table(&["", ""], &facts);
    let tags: Vec<Vec<String>> = plan
        .references()
        .into_iter()
        .map(|r| vec![format!("`{r}`")])
        .collect();
    summary.table(&["Tags"], &tags);
    let layers: Vec<Vec<String>> = built
        .layers
        .iter()
        .take(25)
        .map(|(size, step)| vec![human_size(*size), format!("`{step}`")])
        .collect();
    if !layers.is_empty() {
        summary.table(&["Layer size", "Created by"], &layers);
    }
    summary
}

/// Sets the outputs (image, digest, tags, size) and writes the job summary.
pub fn publish(plan: &BuildPlan, built: &Built) -> Result<()> {
    let mut outputs = Outputs::new();
    outputs.set("image", image_output(plan, built))?;
    outputs.set("digest", built.digest.clone().unwrap_or_default())?;
    outputs.set("tags", plan.references().join("\n"))?;
    outputs.set("size", built.size.to_string())?;
    summary(plan, built).write()?;
    outputs.print_if_no_runner();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_largest_first_without_empty_ones() {
        let history = vec![
            HistoryItem {
                created_by: "/bin/sh -c #(nop)  COPY file:a in / ".into(),
                size: 10,
            },
            HistoryItem {
                created_by: "/bin/sh -c #(nop)  LABEL a=b".into(),
                size: 0,
            },
            HistoryItem {
                created_by: "COPY big /big".into(),
                size: 2048,
            },
        ];
        assert_eq!(
            layers(&history),
            vec![
                (2048, "COPY big /big".to_string()),
                (10, "COPY file:a in /".to_string())
            ]
        );
    }

    #[test]
    fn sizes_for_people() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MiB");
    }
}
