//! A big manifest's `shots:` list parsed in pieces, one thread each: the YAML parse
//! is most of what `plan` spends on 100,000 shots, and a shot list is a long run of
//! independent items. Only plain text is split (no anchors, aliases, merge keys,
//! directives or document markers, `shots:` the last top-level key, every line of
//! the list inside it); anything else, and any piece that fails to parse, returns
//! `None` and the whole text is parsed in one piece, so what is accepted, every
//! error and every location are exactly those of the one-piece parse.

use super::{Loc, MAX_DEPTH, Node, NodeKind, parse_whole};

/// Stack of a piece's thread (address space; only what the parse touches is used).
const PIECE_STACK: usize = 16 << 20;

/// Where the items of the top-level `shots:` list start, and where each piece starts.
struct Layout {
    /// Byte just after the `shots:` line: the head (everything before) ends here.
    items_start: usize,
    /// Byte offsets of the pieces' first lines (the first is `items_start`).
    starts: Vec<usize>,
    /// Columns before each item's `-`.
    indent: usize,
}

/// The shot list's layout, when the text is plain enough to be split exactly.
fn layout(source: &str, pieces: usize) -> Option<Layout> {
    // Anchors and aliases (and the merge keys that use them) join nodes across
    // items; directives and document markers change what the whole text means; a
    // BOM or CR line ends shift offsets. The one-piece parse handles them all.
    let refused = ['&', '*', '\r', '\u{feff}'];
    if source.contains(refused) || source.contains("<<") || source.len() >= 256 * 1024 * 1024 {
        return None;
    }
    let mut at = 0;
    let mut items_start = None;
    let mut indent = None;
    let mut item_lines = Vec::new();
    for line in source.split_inclusive('\n') {
        let start = at;
        at += line.len();
        let text = line.trim_end_matches('\n');
        if text.starts_with("---") || text.starts_with("...") || text.starts_with('%') {
            return None;
        }
        if items_start.is_none() {
            if text.trim_end() == "shots:" {
                items_start = Some(at);
            }
            continue;
        }
        let content = text.trim_start_matches(' ');
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let k = text.len() - content.len();
        let is_item = content == "-" || content.starts_with("- ");
        match indent {
            // A bare `-` at the key's indent: where the list stands is not worth
            // working out for a layout no generator writes.
            None if is_item && k == 0 && content == "-" => return None,
            None if is_item => indent = Some(k),
            None => return None,
            Some(n) if k > n => continue,
            Some(n) if k == n && is_item => {}
            // Less indented, or not an item at the list's indent: another key
            // follows the list, or a line only the one-piece parse can place.
            Some(_) => return None,
        }
        item_lines.push(start);
    }
    let items_start = items_start?;
    if item_lines.len() < pieces {
        return None;
    }
    let len = source.len() - items_start;
    let mut starts = vec![items_start];
    let mut next = 1;
    for &line in &item_lines[1..] {
        if next == pieces {
            break;
        }
        if line - items_start >= len * next / pieces {
            starts.push(line);
            next += 1;
        }
    }
    Some(Layout { items_start, starts, indent: indent? })
}

/// Parses `source` in `pieces` pieces, or `None` when it cannot be split exactly.
pub(super) fn parse(source: &str, pieces: usize) -> Option<Node> {
    let layout = layout(source, pieces)?;
    let mut root = parse_whole(&source[..layout.items_start]).ok()?;
    // The head must read as the manifest's mapping ending in an empty `shots:`.
    let NodeKind::Map(entries) = &mut root.kind else { return None };
    match entries.last() {
        Some((k, v)) if matches!(&k.kind, NodeKind::Str(s) if s == "shots") && matches!(v.kind, NodeKind::Null) => {}
        _ => return None,
    }
    let ends: Vec<usize> = layout.starts[1..].iter().copied().chain([source.len()]).collect();
    let ranges: Vec<(usize, usize)> = layout.starts.iter().copied().zip(ends).collect();
    let parsed: Vec<Option<Node>> = std::thread::scope(|scope| {
        // The parse recurses once per nesting level: a piece gets the stack a main
        // thread has (a spawned thread's default is a quarter of it), and a thread
        // that cannot start leaves the text to the one-piece parse.
        let handles: Vec<_> = ranges[1..]
            .iter()
            .map(|&(a, b)| {
                std::thread::Builder::new().stack_size(PIECE_STACK).spawn_scoped(scope, move || piece(source, a, b))
            })
            .collect();
        let first = piece(source, ranges[0].0, ranges[0].1);
        let rest = handles.into_iter().map(|h| h.ok().and_then(|h| h.join().ok().flatten()));
        std::iter::once(first).chain(rest).collect()
    });
    let mut items = Vec::new();
    let mut loc = None;
    for node in parsed {
        let node = node?;
        loc.get_or_insert(node.loc);
        let NodeKind::Seq(list) = node.kind else { return None };
        if items.is_empty() {
            items = list;
        } else {
            items.extend(list);
        }
    }
    // Parsed alone, the list stands where its first `-` does; so it does as the
    // mapping's value when indented, but a list at the key's own indent has no
    // block start and stands where its first item's content does (after `- `).
    let loc = if layout.indent == 0 { Loc { len: loc?.len, ..items.first()?.loc } } else { loc? };
    let (_, value) = entries.last_mut().expect("checked above");
    *value = Node { kind: NodeKind::Seq(items), loc };
    Some(root)
}

/// One piece parsed on its own, its locations moved to where it stands in `source`.
fn piece(source: &str, start: usize, end: usize) -> Option<Node> {
    let mut node = parse_whole(&source[start..end]).ok()?;
    let lines = source.as_bytes()[..start].iter().filter(|b| **b == b'\n').count() as u32;
    // The piece's root is the list, two levels below the manifest's root: keep
    // clear of the depth limit, which the one-piece parse counts from its root.
    if depth(&node) + 4 > MAX_DEPTH {
        return None;
    }
    shift(&mut node, lines, start);
    Some(node)
}

fn depth(node: &Node) -> usize {
    1 + match &node.kind {
        NodeKind::Seq(items) => items.iter().map(depth).max().unwrap_or(0),
        NodeKind::Map(entries) => entries.iter().map(|(k, v)| depth(k).max(depth(v))).max().unwrap_or(0),
        _ => 0,
    }
}

fn shift(node: &mut Node, lines: u32, bytes: usize) {
    let Loc { line, offset, .. } = &mut node.loc;
    *line += lines;
    *offset += bytes;
    match &mut node.kind {
        NodeKind::Seq(items) => items.iter_mut().for_each(|n| shift(n, lines, bytes)),
        NodeKind::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            shift(k, lines, bytes);
            shift(v, lines, bytes);
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree as text: locations included, so a shifted line or offset shows.
    fn tree(node: &Node) -> String {
        format!("{node:?}")
    }

    /// The split parse gives the one-piece tree, or declines.
    fn same_or_declined(src: &str, pieces: usize) -> bool {
        let split = parse(src, pieces);
        match (parse_whole(src), split) {
            (Ok(whole), Some(split)) => {
                let (a, b) = (tree(&split), tree(&whole));
                if a != b {
                    let at = a.bytes().zip(b.bytes()).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
                    let from = at.saturating_sub(300);
                    panic!(
                        "{pieces} pieces differ at {at}:\nsplit: {}\nwhole: {}\nof:\n{src}",
                        &a[from..(at + 200).min(a.len())],
                        &b[from..(at + 200).min(b.len())]
                    );
                }
                true
            }
            (Err(e), Some(_)) => panic!("the split parse accepted what the one-piece parse refuses ({e}):\n{src}"),
            (_, None) => false,
        }
    }

    fn big(shots: usize, indent: &str) -> String {
        let mut y = String::from(
            "# a comment\nversion: 1\nname: big\ndefaults:\n  provider: runware\n  model: hailuo-2.3\nproviders:\n  minimax: { requestsPerMinute: 60 }\nshots:\n\n# the shots\n",
        );
        for i in 0..shots {
            let body = match i % 5 {
                0 => format!("{indent}  prompt: \"Shot {i}: a night market – ünïcode [Pan left]\"\n"),
                1 => format!(
                    "{indent}  prompt: plain text {i}\n{indent}  frames: {{ first: a.png }}\n{indent}  camera: [Push in]\n"
                ),
                2 => format!(
                    "{indent}  prompt: |\n{indent}    line one {i}\n\n{indent}    line two\n{indent}  duration: 6\n  # a comment inside\n"
                ),
                3 => format!(
                    "{indent}  numberResults: 2\n{indent}  prompt: 'single ''quoted'' {i}'\n{indent}  ok: true\n{indent}  n: 007\n"
                ),
                _ => format!("{indent}  prompt: \"a long\n{indent}    folded prompt {i}\"\n{indent}  x: 1.5\n"),
            };
            y.push_str(&format!("{indent}- id: s{i:05}\n{body}"));
        }
        y
    }

    #[test]
    fn a_split_shot_list_is_the_tree_of_the_one_piece_parse() {
        for indent in ["", "  "] {
            let src = big(400, indent);
            for pieces in [2, 3, 4, 7] {
                assert!(same_or_declined(&src, pieces), "plain text must split ({pieces} pieces, indent {indent:?})");
            }
        }
        // Flow items, and the list's last item without a line end.
        let src = "version: 1\nshots:\n  - { id: a, prompt: x }\n  - { id: b, prompt: y }\n  - {id: c}";
        assert!(same_or_declined(src, 2));
    }

    #[test]
    fn what_cannot_be_split_exactly_is_left_to_the_one_piece_parse() {
        let declined = [
            // A key after the list.
            "version: 1\nshots:\n  - id: a\n  - id: b\nname: x\n",
            // Anchors and aliases.
            "version: 1\nshots:\n  - &a { id: a }\n  - *a\n",
            // Documents.
            "version: 1\nshots:\n  - id: a\n  - id: b\n---\nx: 1\n",
            // A quoted string with a line that looks like an item.
            "version: 1\nshots:\n  - id: a\n    prompt: \"x\n  - id: b\"\n  - id: c\n",
            // A flow list that spans the boundary.
            "version: 1\nshots:\n  - [a,\n  - b]\n  - c\n",
            // Duplicate keys in the head.
            "version: 1\nversion: 2\nshots:\n  - id: a\n  - id: b\n",
            // No shot list.
            "version: 1\nname: x\n",
        ];
        for src in declined {
            for pieces in [2, 3] {
                assert!(!same_or_declined(src, pieces), "should not split:\n{src}");
            }
        }
        // A piece with a syntax error declines; the error is the one-piece parse's.
        let mut src = big(50, "  ");
        src.push_str("  - id: z\n    prompt: [unclosed\n");
        assert!(!same_or_declined(&src, 2));
    }

    #[test]
    fn every_test_manifest_splits_to_its_own_tree_or_not_at_all() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifests");
        let mut split = 0;
        for kind in ["valid", "invalid"] {
            for entry in std::fs::read_dir(root.join(kind)).unwrap() {
                let path = entry.unwrap().path();
                let Ok(src) = std::fs::read_to_string(&path) else { continue };
                for pieces in [2, 3] {
                    split += usize::from(same_or_declined(&src, pieces));
                }
            }
        }
        assert!(split > 0, "some test manifest should split");
    }

    #[test]
    fn nesting_near_the_limit_is_left_to_the_one_piece_parse() {
        // Sixty levels of serde visitors outgrow a test thread's stack in a debug build.
        let check = || {
            let deep = format!("{}x{}", "[".repeat(MAX_DEPTH - 3), "]".repeat(MAX_DEPTH - 3));
            let src = format!("version: 1\nshots:\n  - {deep}\n  - {deep}\n");
            // Whether the one-piece parse takes it is its own business (and its error).
            assert!(!same_or_declined(&src, 2));
            let deeper = src.replace("[x]", "[[[[[[[[[[x]]]]]]]]]]");
            assert!(!same_or_declined(&deeper, 2));
            assert!(parse_whole(&deeper).is_err());
        };
        std::thread::Builder::new().stack_size(256 << 20).spawn(check).unwrap().join().unwrap();
    }
}
