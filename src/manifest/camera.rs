//! Camera moves: the 15 bracket commands MiniMax documents, in English and Chinese,
//! checked in a shot's `camera:` list and in `[...]` groups inside its prompt.

/// The documented moves, English and Chinese spellings side by side (A11 in the
/// MiniMax reference; the order is the docs' own).
pub const MOVES: &[(&str, &str)] = &[
    ("Truck left", "左移"),
    ("Truck right", "右移"),
    ("Pan left", "左摇"),
    ("Pan right", "右摇"),
    ("Push in", "推进"),
    ("Pull out", "拉远"),
    ("Pedestal up", "上升"),
    ("Pedestal down", "下降"),
    ("Tilt up", "上摇"),
    ("Tilt down", "下摇"),
    ("Zoom in", "变焦推近"),
    ("Zoom out", "变焦拉远"),
    ("Shake", "晃动"),
    ("Tracking shot", "跟随"),
    ("Static shot", "固定"),
];

/// MiniMax: "combined ... recommended max: 3"; Segmind: "up to 3 combined movements".
pub const MAX_COMBINED: usize = 3;

/// The canonical (English, documented case) spelling of a move, if the text is one.
pub fn canonical(text: &str) -> Option<&'static str> {
    let t = text.trim();
    MOVES.iter().find(|(en, zh)| en.eq_ignore_ascii_case(t) || *zh == t).map(|(en, _)| *en)
}

/// A `[...]` group found in a prompt.
#[derive(Debug, PartialEq)]
pub struct BracketGroup<'a> {
    /// Byte offset of `[` in the prompt.
    pub start: usize,
    /// The whole group, brackets included.
    pub text: &'a str,
    /// The comma-separated parts, trimmed.
    pub parts: Vec<&'a str>,
}

impl BracketGroup<'_> {
    pub fn unknown_parts(&self) -> Vec<&str> {
        self.parts.iter().copied().filter(|p| canonical(p).is_none()).collect()
    }
}

/// Every `[...]` group in a prompt; commas may be ASCII or full-width (Chinese text).
pub fn bracket_groups(prompt: &str) -> Vec<BracketGroup<'_>> {
    let mut groups = Vec::new();
    let mut rest = 0;
    while let Some(open) = prompt[rest..].find('[').map(|i| i + rest) {
        let Some(close) = prompt[open..].find(']').map(|i| i + open) else { break };
        let inner = &prompt[open + 1..close];
        let parts = inner.split([',', '，', '、']).map(str::trim).filter(|p| !p.is_empty()).collect();
        groups.push(BracketGroup { start: open, text: &prompt[open..=close], parts });
        rest = close + 1;
    }
    groups
}

/// The text appended to a prompt for a shot's `camera:` moves: one combined group.
pub fn as_prompt_suffix(moves: &[&str]) -> String {
    format!("[{}]", moves.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_any_case_and_chinese_are_recognised() {
        assert_eq!(canonical("pan LEFT"), Some("Pan left"));
        assert_eq!(canonical(" 变焦推近 "), Some("Zoom in"));
        assert_eq!(canonical("pan up"), None);
    }

    #[test]
    fn groups_are_split_on_ascii_and_full_width_commas() {
        let g = bracket_groups("A man [Pan left, Pedestal up] then [左摇，上升] end [unclosed");
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].parts, vec!["Pan left", "Pedestal up"]);
        assert_eq!(g[0].start, 6);
        assert_eq!(g[1].parts, vec!["左摇", "上升"]);
        assert!(g[1].unknown_parts().is_empty());
    }

    #[test]
    fn free_text_in_brackets_is_reported_as_unknown() {
        let g = bracket_groups("drift [slow dreamy drift, Zoom in]");
        assert_eq!(g[0].unknown_parts(), vec!["slow dreamy drift"]);
    }
}
