//! A small JSON Schema validator for exactly the keywords of the OpenAPI
//! 3.0 schema objects `docs/openapi.json` uses, `$ref` into the document
//! included. A keyword, format or `$ref` it does not implement panics, so
//! a schema it cannot read never passes silently. In strict mode an object
//! member that no `properties` (of the schema or of its `allOf`, `anyOf`,
//! `oneOf` siblings) declares is an error too: the document must name
//! every field the node sends.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// The keywords read here; any other panics.
const KEYWORDS: &[&str] = &[
    "$ref",
    "type",
    "nullable",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minItems",
    "maxItems",
    "enum",
    "const",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "allOf",
    "anyOf",
    "oneOf",
];

/// Keywords that only annotate: they never fail a value.
const ANNOTATIONS: &[&str] = &["description", "default", "title", "example"];

/// Validates values against schemas of one document (`root`, where `$ref`
/// resolves).
pub struct Validator<'a> {
    root: &'a Value,
    strict: bool,
}

type Names = BTreeSet<String>;

impl<'a> Validator<'a> {
    /// A validator that allows members no schema declares, as JSON Schema does.
    pub fn new(root: &'a Value) -> Self {
        Validator {
            root,
            strict: false,
        }
    }

    /// A validator for which an undeclared member is an error.
    pub fn strict(root: &'a Value) -> Self {
        Validator { root, strict: true }
    }

    /// Every way `value` breaks `schema`, each as "<JSON pointer>: why".
    pub fn errors(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut out = Vec::new();
        self.check(schema, value, "", &Names::new(), &mut out);
        out
    }

    /// The schema `$ref` points at (only `#/...` pointers).
    pub fn resolve(&self, r: &str) -> &'a Value {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("unsupported $ref {r:?}: only #/... pointers"));
        self.root
            .pointer(pointer)
            .unwrap_or_else(|| panic!("$ref {r:?} points at nothing"))
    }

    fn check(&self, schema: &Value, v: &Value, at: &str, extra: &Names, out: &mut Vec<String>) {
        let s = object(schema);
        for k in s.keys() {
            if !KEYWORDS.contains(&k.as_str()) && !ANNOTATIONS.contains(&k.as_str()) {
                panic!("unsupported schema keyword {k:?} at {at:?} in {schema}");
            }
        }
        if let Some(r) = s.get("$ref") {
            let others = s.keys().filter(|k| !ANNOTATIONS.contains(&k.as_str()));
            assert_eq!(others.count(), 1, "$ref with sibling keywords: {schema}");
            let r = r.as_str().expect("$ref is a string");
            return self.check(self.resolve(r), v, at, extra, out);
        }
        if v.is_null() && s.get("nullable") == Some(&Value::Bool(true)) {
            return;
        }
        let before = out.len();
        check_type(s, v, at, out);
        if out.len() > before {
            return; // the other keywords would only repeat it
        }
        check_scalar(s, v, at, out);
        self.check_object(s, v, at, extra, out);
        self.check_array(s, v, at, out);
        self.check_combinators(s, v, at, extra, out);
    }

    fn check_object(
        &self,
        s: &Map<String, Value>,
        v: &Value,
        at: &str,
        extra: &Names,
        out: &mut Vec<String>,
    ) {
        let Some(o) = v.as_object() else { return };
        let props = s.get("properties").map(object);
        for name in s.get("required").map(strings).unwrap_or_default() {
            if !o.contains_key(&name) {
                out.push(format!("{at}: required member {name:?} is missing"));
            }
        }
        if let Some(props) = props {
            for (k, sub) in props {
                if let Some(x) = o.get(k) {
                    self.check(sub, x, &format!("{at}/{k}"), &Names::new(), out);
                }
            }
        }
        let declared = |k: &String| props.is_some_and(|p| p.contains_key(k)) || extra.contains(k);
        match s.get("additionalProperties") {
            None if self.strict && (props.is_some() || !extra.is_empty()) => {
                for k in o.keys().filter(|k| !declared(k)) {
                    out.push(format!("{at}: member {k:?} is not in the schema"));
                }
            }
            None | Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => {
                for k in o
                    .keys()
                    .filter(|k| !props.is_some_and(|p| p.contains_key(*k)))
                {
                    out.push(format!("{at}: member {k:?} is not allowed"));
                }
            }
            Some(sub) => {
                for (k, x) in o.iter().filter(|(k, _)| !declared(k)) {
                    self.check(sub, x, &format!("{at}/{k}"), &Names::new(), out);
                }
            }
        }
    }

    fn check_array(&self, s: &Map<String, Value>, v: &Value, at: &str, out: &mut Vec<String>) {
        let Some(a) = v.as_array() else { return };
        if let Some(items) = s.get("items") {
            for (i, x) in a.iter().enumerate() {
                self.check(items, x, &format!("{at}/{i}"), &Names::new(), out);
            }
        }
        if let Some(n) = s.get("minItems").and_then(Value::as_u64) {
            if (a.len() as u64) < n {
                out.push(format!("{at}: {} items, fewer than {n}", a.len()));
            }
        }
        if let Some(n) = s.get("maxItems").and_then(Value::as_u64) {
            if a.len() as u64 > n {
                out.push(format!("{at}: {} items, more than {n}", a.len()));
            }
        }
    }

    fn check_combinators(
        &self,
        s: &Map<String, Value>,
        v: &Value,
        at: &str,
        extra: &Names,
        out: &mut Vec<String>,
    ) {
        let mut names = extra.clone();
        names.extend(self.declared(s));
        for key in ["allOf", "anyOf", "oneOf"] {
            for b in s.get(key).and_then(Value::as_array).into_iter().flatten() {
                names.extend(self.declared(object(b)));
            }
        }
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            for b in all {
                self.check(b, v, at, &names, out);
            }
        }
        let passing = |key: &str| {
            s.get(key).and_then(Value::as_array).map(|bs| {
                let ok = bs.iter().filter(|b| {
                    let mut e = Vec::new();
                    self.check(b, v, at, &names, &mut e);
                    e.is_empty()
                });
                (ok.count(), bs.len())
            })
        };
        if let Some((0, n)) = passing("anyOf") {
            out.push(format!("{at}: matches none of the {n} anyOf schemas"));
        }
        if let Some((ok, n)) = passing("oneOf") {
            if ok != 1 {
                out.push(format!(
                    "{at}: matches {ok} of the {n} oneOf schemas, not exactly one"
                ));
            }
        }
    }

    /// The member names `s` declares: its `properties`, through `$ref`
    /// and `allOf`.
    fn declared(&self, s: &Map<String, Value>) -> Names {
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            return self.declared(object(self.resolve(r)));
        }
        let mut out: Names = s
            .get("properties")
            .map(object)
            .into_iter()
            .flat_map(|p| p.keys().cloned())
            .collect();
        for b in s
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.extend(self.declared(object(b)));
        }
        out
    }
}

fn object(schema: &Value) -> &Map<String, Value> {
    schema
        .as_object()
        .unwrap_or_else(|| panic!("a schema is an object, not {schema}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().expect("a string").to_owned())
        .collect()
}

fn is_type(t: &str, v: &Value) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => panic!("unsupported type {t:?}"),
    }
}

fn check_type(s: &Map<String, Value>, v: &Value, at: &str, out: &mut Vec<String>) {
    let types = match s.get("type") {
        None => return,
        Some(Value::String(t)) => vec![t.clone()],
        Some(ts) => strings(ts),
    };
    if !types.iter().any(|t| is_type(t, v)) {
        out.push(format!("{at}: {v} is not of type {}", types.join(" or ")));
    }
}

fn check_scalar(s: &Map<String, Value>, v: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            out.push(format!(
                "{at}: {v} is not one of {}",
                Value::Array(e.clone())
            ));
        }
    }
    if let Some(c) = s.get("const") {
        if c != v {
            out.push(format!("{at}: {v} is not {c}"));
        }
    }
    if v.is_number() {
        check_number(s, v, at, out);
    }
    if let Some(t) = v.as_str() {
        check_string(s, t, at, out);
    }
}

fn check_number(s: &Map<String, Value>, v: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(m) = s.get("minimum") {
        if compare(v, m) == Ordering::Less {
            out.push(format!("{at}: {v} is below the minimum {m}"));
        }
    }
    if let Some(m) = s.get("maximum") {
        if compare(v, m) == Ordering::Greater {
            out.push(format!("{at}: {v} is above the maximum {m}"));
        }
    }
    let Some(f) = s.get("format").and_then(Value::as_str) else {
        return;
    };
    let fits = match f {
        "int32" => v.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        "int64" => v.is_i64(),
        "float" | "double" => true,
        _ => panic!("unsupported number format {f:?}"),
    };
    if !fits {
        out.push(format!("{at}: {v} is not an {f}"));
    }
}

fn check_string(s: &Map<String, Value>, t: &str, at: &str, out: &mut Vec<String>) {
    let chars = t.chars().count() as u64;
    if let Some(n) = s.get("minLength").and_then(Value::as_u64) {
        if chars < n {
            out.push(format!("{at}: {t:?} is shorter than {n}"));
        }
    }
    if let Some(n) = s.get("maxLength").and_then(Value::as_u64) {
        if chars > n {
            out.push(format!("{at}: {t:?} is longer than {n}"));
        }
    }
    if let Some(p) = s.get("pattern").and_then(Value::as_str) {
        let re = regex::Regex::new(p).unwrap_or_else(|e| panic!("unsupported pattern {p:?}: {e}"));
        if !re.is_match(t) {
            out.push(format!("{at}: {t:?} does not match {p}"));
        }
    }
    if let Some(f) = s.get("format").and_then(Value::as_str) {
        panic!("unsupported string format {f:?}");
    }
}

/// Orders two JSON numbers exactly when both are integers.
fn compare(a: &Value, b: &Value) -> Ordering {
    let int = |v: &Value| v.as_i64().map(i128::from).or(v.as_u64().map(i128::from));
    match (int(a), int(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => {
            let f = |v: &Value| v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
            f(a).partial_cmp(&f(b)).unwrap_or(Ordering::Equal)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::Validator;

    /// Checks that `good` passes and `bad` fails `schema` (non-strict).
    fn case(schema: Value, good: Value, bad: Value) {
        let root = json!({});
        let v = Validator::new(&root);
        assert_eq!(
            v.errors(&schema, &good),
            Vec::<String>::new(),
            "{schema} on {good}"
        );
        assert!(!v.errors(&schema, &bad).is_empty(), "{schema} passed {bad}");
    }

    #[test]
    fn types_tell_integer_from_number() {
        case(json!({"type": "integer"}), json!(3), json!(3.5));
        case(json!({"type": "integer"}), json!(u64::MAX), json!("3"));
        case(json!({"type": "number"}), json!(3.5), json!("3.5"));
        case(json!({"type": "string"}), json!("x"), json!(null));
        case(json!({"type": "boolean"}), json!(false), json!(0));
        case(json!({"type": "array"}), json!([]), json!({}));
        case(json!({"type": "object"}), json!({}), json!([]));
        case(json!({"type": ["string", "null"]}), json!(null), json!(1));
        case(
            json!({"type": "string", "nullable": true}),
            json!(null),
            json!(1),
        );
        case(json!({"type": "string"}), json!("x"), json!(null));
    }

    #[test]
    fn objects() {
        let s = json!({"properties": {"a": {"type": "integer"}}, "required": ["a"]});
        case(s.clone(), json!({"a": 1, "b": 2}), json!({"b": 2}));
        case(s, json!({"a": 1}), json!({"a": "1"}));
        let closed = json!({"properties": {"a": {}}, "additionalProperties": false});
        case(closed, json!({"a": 1}), json!({"a": 1, "b": 2}));
        let typed = json!({"additionalProperties": {"type": "string"}});
        case(typed, json!({"x": "y"}), json!({"x": 1}));
    }

    #[test]
    fn strict_mode_refuses_undeclared_members_but_sees_all_of() {
        let root = json!({"components": {"schemas": {"A": {"properties": {"a": {}}}}}});
        let v = Validator::strict(&root);
        let s = json!({"allOf": [{"$ref": "#/components/schemas/A"}, {"properties": {"b": {}}}]});
        assert!(v.errors(&s, &json!({"a": 1, "b": 2})).is_empty());
        let e = v.errors(&s, &json!({"a": 1, "c": 2}));
        assert!(e.iter().any(|e| e.contains("\"c\"")), "{e:?}");
        assert!(v
            .errors(&json!({"type": "object"}), &json!({"c": 1}))
            .is_empty());
        assert!(Validator::new(&root)
            .errors(&s, &json!({"c": 1}))
            .is_empty());
    }

    #[test]
    fn arrays() {
        let s = json!({"items": {"type": "integer"}, "minItems": 1, "maxItems": 2});
        case(s.clone(), json!([1]), json!([1, "2"]));
        case(s.clone(), json!([1, 2]), json!([]));
        case(s, json!([1, 2]), json!([1, 2, 3]));
    }

    #[test]
    fn enum_and_const() {
        case(json!({"enum": ["a", "b"]}), json!("b"), json!("c"));
        case(json!({"const": 7}), json!(7), json!(8));
    }

    #[test]
    fn bounds_and_formats() {
        case(json!({"minimum": 1}), json!(1), json!(0));
        case(json!({"maximum": u64::MAX}), json!(u64::MAX), json!(1e20));
        case(json!({"minimum": 0.01}), json!(0.01), json!(0.001));
        case(json!({"maximum": 2}), json!(2), json!(3));
        case(
            json!({"format": "int32"}),
            json!(i32::MAX),
            json!(1u64 << 31),
        );
        case(json!({"format": "int64"}), json!(i64::MAX), json!(u64::MAX));
        case(json!({"format": "int64"}), json!(-1), json!(1.5));
    }

    #[test]
    fn strings() {
        case(json!({"minLength": 2}), json!("éé"), json!("é"));
        case(json!({"maxLength": 2}), json!("éé"), json!("ééé"));
        case(
            json!({"pattern": "^[0-9a-f]{2}$"}),
            json!("0a"),
            json!("0A"),
        );
        let ctl = json!({"pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]+$"});
        case(ctl, json!("ok é"), json!("a\u{85}"));
    }

    #[test]
    fn combinators() {
        let one = json!({"oneOf": [{"required": ["a"]}, {"required": ["b"]}]});
        case(one.clone(), json!({"a": 1}), json!({"a": 1, "b": 2}));
        case(one, json!({"b": 1}), json!({}));
        let any = json!({"anyOf": [{"type": "string"}, {"type": "integer"}]});
        case(any, json!(1), json!(1.5));
        let all = json!({"allOf": [{"minimum": 1}, {"maximum": 2}]});
        case(all, json!(2), json!(3));
    }

    #[test]
    fn refs_resolve_into_the_document() {
        let root = json!({"components": {"schemas": {"N": {"type": "integer"}}}});
        let v = Validator::new(&root);
        let s = json!({"items": {"$ref": "#/components/schemas/N"}});
        assert!(v.errors(&s, &json!([1])).is_empty());
        assert!(!v.errors(&s, &json!(["1"])).is_empty());
    }

    #[test]
    #[should_panic(expected = "unsupported schema keyword")]
    fn an_unknown_keyword_panics() {
        case(json!({"exclusiveMinimum": 1}), json!(2), json!(0));
    }

    #[test]
    #[should_panic(expected = "unsupported schema keyword")]
    fn an_unknown_keyword_in_a_branch_panics() {
        let s = json!({"anyOf": [{"type": "integer"}, {"multipleOf": 2}]});
        case(s, json!(2), json!("x"));
    }

    #[test]
    #[should_panic(expected = "unsupported string format")]
    fn an_unknown_format_panics() {
        case(json!({"format": "date-time"}), json!("x"), json!(1));
    }

    #[test]
    #[should_panic(expected = "points at nothing")]
    fn a_dangling_ref_panics() {
        case(
            json!({"$ref": "#/components/schemas/Gone"}),
            json!(1),
            json!(2),
        );
    }
}
