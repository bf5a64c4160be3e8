//! First step of loading: YAML text into a tree of nodes that each know where they
//! stand in the file. serde-saphyr does the YAML (syntax, anchors, duplicate keys);
//! the tree lets `schema` report every mistake at once instead of stopping at the
//! first one, as a typed serde pass would.

mod split;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// Where a node stands in the manifest: 1-based line and column, and its byte range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Loc {
    pub line: u32,
    pub column: u32,
    pub offset: usize,
    pub len: usize,
}

impl Loc {
    fn from_saphyr(l: &serde_saphyr::Location) -> Self {
        let span = l.span();
        Loc {
            line: l.line() as u32,
            column: l.column() as u32,
            offset: span.byte_offset().unwrap_or(span.offset()) as usize,
            len: span.byte_len().unwrap_or(span.len()) as usize,
        }
    }
}

/// One YAML node with its location.
#[derive(Clone, Debug)]
pub struct Node {
    pub kind: NodeKind,
    pub loc: Loc,
}

/// What a node holds. Scalars keep the type YAML inferred for them.
#[derive(Clone, Debug)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl NodeKind {
    /// A word for the kind of value, for messages like "expected a string, found a list".
    pub fn describe(&self) -> &'static str {
        match self {
            NodeKind::Null => "nothing (null)",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Int(_) => "a number",
            NodeKind::Float(_) => "a number",
            NodeKind::Str(_) => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }
}

impl From<Spanned<NodeKind>> for Node {
    fn from(s: Spanned<NodeKind>) -> Self {
        Node { kind: s.value, loc: Loc::from_saphyr(&s.referenced) }
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = NodeKind;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<NodeKind, E> {
        Ok(NodeKind::Null)
    }
    fn visit_none<E>(self) -> Result<NodeKind, E> {
        Ok(NodeKind::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<NodeKind, D::Error> {
        NodeKind::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<NodeKind, E> {
        Ok(NodeKind::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<NodeKind, E> {
        Ok(NodeKind::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<NodeKind, E> {
        Ok(i64::try_from(v).map(NodeKind::Int).unwrap_or(NodeKind::Float(v as f64)))
    }
    fn visit_i128<E>(self, v: i128) -> Result<NodeKind, E> {
        Ok(i64::try_from(v).map(NodeKind::Int).unwrap_or(NodeKind::Float(v as f64)))
    }
    fn visit_u128<E>(self, v: u128) -> Result<NodeKind, E> {
        Ok(i64::try_from(v).map(NodeKind::Int).unwrap_or(NodeKind::Float(v as f64)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<NodeKind, E> {
        Ok(NodeKind::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<NodeKind, E> {
        Ok(NodeKind::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<NodeKind, E> {
        Ok(NodeKind::Str(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<NodeKind, E> {
        Ok(NodeKind::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeKind, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<NodeKind>>()? {
            items.push(item.into());
        }
        Ok(NodeKind::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeKind, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<NodeKind>>()? {
            let value = map.next_value::<Spanned<NodeKind>>()?;
            entries.push((key.into(), value.into()));
        }
        Ok(NodeKind::Map(entries))
    }
}

impl<'de> Deserialize<'de> for NodeKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KindVisitor)
    }
}

/// Nesting deeper than this is refused (a shot list needs about six levels).
pub const MAX_DEPTH: usize = 64;

/// The parser's resource limits for a file of `len` bytes. Node, event and scalar
/// limits grow with the file (a node takes at least a couple of bytes of text, so a
/// plain file never reaches one node per byte), so a 100,000-shot manifest loads;
/// what only aliases can produce (many more nodes than the text has bytes: an alias
/// bomb) and deep nesting are still refused.
pub fn budget_for(len: usize) -> serde_saphyr::Budget {
    let mut b = serde_saphyr::Budget::default();
    b.max_nodes = b.max_nodes.max(len);
    b.max_events = b.max_events.max(len.saturating_mul(2));
    b.max_total_scalar_bytes = b.max_total_scalar_bytes.max(len.saturating_mul(2));
    b.max_depth = MAX_DEPTH;
    b.flow_nesting_limit = MAX_DEPTH;
    b
}

/// Whether the parser refused the text for a resource limit (alias expansion,
/// nesting), not for its syntax.
pub fn is_budget(e: &serde_saphyr::Error) -> bool {
    let text = e.to_string();
    matches!(e, serde_saphyr::Error::Budget { .. })
        || text.contains("budget breached")
        || text.contains("recursion limit")
}

/// Below this size a manifest is parsed in one piece: splitting pays only when the
/// parse takes long enough to be worth a thread (a 100,000-shot manifest is 23 MB).
const SPLIT_MIN_BYTES: usize = 1 << 20;

/// Parses YAML text into a node tree. Only YAML itself can fail here (syntax,
/// duplicate keys, resource budgets); meaning is checked later. A big shot list is
/// parsed in pieces on the machine's cores when that gives exactly the tree the
/// one-piece parse gives (see `split`); errors always come from the one-piece parse.
pub fn parse(source: &str) -> Result<Node, serde_saphyr::Error> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    if source.len() >= SPLIT_MIN_BYTES
        && cores > 1
        && let Some(root) = split::parse(source, cores)
    {
        return Ok(root);
    }
    parse_whole(source)
}

/// The one-piece parse.
fn parse_whole(source: &str) -> Result<Node, serde_saphyr::Error> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
        with_snippet: false,
        leading_zero_numbers_as_strings: true,
        budget: Some(budget_for(source.len())),
    };
    let root: Spanned<NodeKind> = serde_saphyr::from_str_with_options(source, options)?;
    Ok(root.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_plain_list_passes_where_the_default_budget_refused_it() {
        // 52,000 list items of 5 nodes each: more than the default 250,000 nodes.
        let mut src = String::from("shots:\n");
        for i in 0..52_000 {
            src.push_str(&format!("  - {{id: s{i}, p: x}}\n"));
        }
        let root = parse(&src).expect("parses");
        let NodeKind::Map(top) = &root.kind else { panic!() };
        assert!(matches!(&top[0].1.kind, NodeKind::Seq(v) if v.len() == 52_000));
    }

    #[test]
    fn an_alias_bomb_is_refused() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let p = i - 1;
            src.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = parse(&src).expect_err("10^8 nodes from a few hundred bytes");
        assert!(is_budget(&e), "{e}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let src = format!("{}x{}", "[".repeat(MAX_DEPTH + 10), "]".repeat(MAX_DEPTH + 10));
        let e = parse(&src).expect_err("too deep");
        assert!(is_budget(&e), "{e}");
    }

    #[test]
    fn nodes_carry_lines_columns_and_byte_ranges() {
        let src = "version: 1\nshots:\n  - id: a\n    prompt: y\n    numberResults: 2\n    camera: [Pan left]\n";
        let root = parse(src).unwrap();
        let NodeKind::Map(top) = &root.kind else { panic!("{root:?}") };
        let (_, shots) = &top[1];
        let NodeKind::Seq(items) = &shots.kind else { panic!() };
        let NodeKind::Map(shot) = &items[0].kind else { panic!() };
        let (k, v) = &shot[1];
        assert!(matches!(&k.kind, NodeKind::Str(s) if s == "prompt"));
        assert!(matches!(&v.kind, NodeKind::Str(s) if s == "y"), "{v:?}");
        assert_eq!((v.loc.line, v.loc.column), (4, 13));
        assert_eq!(&src[v.loc.offset..v.loc.offset + v.loc.len], "y");
        let (_, n) = &shot[2];
        assert!(matches!(n.kind, NodeKind::Int(2)));
        eprintln!("{:?}", shot[0].0.loc);
        eprintln!("{:?}", items[0].loc);
        eprintln!("{:?}", shot[3].1);
    }
}
