//! How a plan is shown: a table for people, JSON for machines (`plan --json`).

use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_BORDERS_ONLY};

use crate::manifest::{Loaded, Problem};
use crate::plan::{Plan, Totals};

/// Dollars with cents, or "unknown" where no price is published (never $0).
pub fn usd(v: Option<f64>) -> String {
    // Rounded half up to the cent ($0.625 shows as $0.63), as a price list would.
    v.map_or_else(|| "unknown".to_owned(), |v| format!("${:.2}", (v * 100.0).round() / 100.0))
}

/// The human table with a totals line under it.
pub fn table(plan: &Plan, loaded: &Loaded, out_dir: &std::path::Path) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY);
    t.set_header(["shot", "clips", "provider", "model", "mode", "res", "dur", "est. cost"]);
    for j in &plan.jobs {
        let clips = match (j.variants.first(), j.variants.last()) {
            (Some(a), Some(b)) if a != b => format!("{a}-{b}"),
            (Some(a), _) => a.to_string(),
            _ => String::new(),
        };
        t.add_row(vec![
            Cell::new(&j.shot_id),
            Cell::new(clips),
            Cell::new(j.provider),
            Cell::new(j.model_label()),
            Cell::new(j.mode.describe()),
            // A template decides its resolution and length.
            Cell::new(if j.template.is_some() { "-".to_owned() } else { j.resolution.to_string() }),
            Cell::new(if j.template.is_some() { "-".to_owned() } else { format!("{} s", j.duration) }),
            Cell::new(match j.price_source {
                // A contract price, not the catalog's: say so beside it.
                Some(crate::plan::PriceSource::Manifest) => format!("{} (manifest)", usd(j.estimated_cost_usd)),
                _ => usd(j.estimated_cost_usd),
            })
            .set_alignment(CellAlignment::Right),
        ]);
    }
    let name = loaded.manifest.name.as_deref().unwrap_or("");
    let title = if name.is_empty() { loaded.file_name.clone() } else { format!("{name} ({})", loaded.file_name) };
    let mut out = format!("Plan for {title}\n{t}\n{}\n", totals_line(&plan.totals));
    if let Some(b) = loaded.manifest.max_cost_usd {
        out.push_str(&format!("Budget: ${b:.2}\n"));
    }
    out.push_str(&format!("Output: {}\n", out_dir.display()));
    out
}

/// "12 jobs, 15 clips from 8 shots; estimated total $4.20 (3 clips with no known price)".
pub fn totals_line(t: &Totals) -> String {
    let unknown = match t.clips_without_price {
        0 => String::new(),
        1 => " + 1 clip with no known price".to_owned(),
        n => format!(" + {n} clips with no known price"),
    };
    format!(
        "{} jobs, {} clips from {} shots; estimated total cost ${:.2}{unknown}",
        t.jobs,
        t.clips,
        t.shots,
        (t.estimated_cost_usd * 100.0).round() / 100.0
    )
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct PlanJson<'a> {
    valid: bool,
    manifest: &'a str,
    name: Option<&'a str>,
    output: String,
    budget_usd: Option<f64>,
    jobs: &'a [crate::plan::Job],
    totals: &'a Totals,
    warnings: &'a [Problem],
}

pub fn json(plan: &Plan, loaded: &Loaded, out_dir: &std::path::Path) -> String {
    let doc = PlanJson {
        valid: true,
        manifest: &loaded.file_name,
        name: loaded.manifest.name.as_deref(),
        output: out_dir.display().to_string(),
        budget_usd: loaded.manifest.max_cost_usd,
        jobs: &plan.jobs,
        totals: &plan.totals,
        warnings: &loaded.warnings,
    };
    serde_json::to_string_pretty(&doc).expect("plan serialises")
}

/// `plan --json` for an invalid manifest: every problem with file, line, column, field.
pub fn json_invalid(invalid: &crate::manifest::Invalid) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "valid": false,
        "manifest": invalid.file_name,
        "problems": invalid.problems,
    }))
    .expect("problems serialise")
}
