//! The JSON boundary. Two things live here, so that `consensus/` has no
//! serde:
//!
//! * the serde forms of consensus types (a hash is its 64 hex digits), and
//!   the export's writer ([`to_string_escaped`]), which escapes every
//!   control character;
//! * the one strict reader of every JSON document sledger takes in (an
//!   export line, a request body of the node): [`Object::parse`] reads
//!   the text into a tree, refusing a repeated key, requires an object,
//!   and hands out its fields by name and type. A `null` is a value of the
//!   wrong type, never an absent field; an integer is digits only (no
//!   sign, fraction or exponent); an array is never read as an object.
//!   `docs/FORMAT.md`, "Reading JSON", is the contract.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::consensus::{BlockHash, MerkleNode, PublicKey, Signature, Txid};

macro_rules! hex_serde {
    ($($name:ident),*) => {$(hex_serde!(@one $name, "64");)*};
    (@one $name:ident, $digits:literal) => {
        /// Lowercase hex digits, two per byte.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }

        /// Hex digits, two per byte, either case.
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s: Cow<'de, str> = serde::Deserialize::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }

        impl Field for $name {
            const EXPECTED: &'static str = concat!("a string of ", $digits, " hex digits");
            fn from_value(v: &Value) -> Option<Self> {
                v.as_str()?.parse().ok()
            }
        }
    };
}

hex_serde!(BlockHash, Txid, MerkleNode, PublicKey);
hex_serde!(@one Signature, "128");

/// The bytes JSON counts as whitespace: space, tab, line feed, carriage
/// return (RFC 8259). Nothing else is blank: not a form feed, not U+00A0.
pub fn is_json_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Why a JSON document is not what was asked for.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// Not JSON, or a key repeated within one object.
    #[error("{0}")]
    Syntax(#[from] serde_json::Error),
    /// A value of the wrong type (`null` included) or out of range.
    #[error("{what}: expected {expected}, found {found}")]
    Type {
        what: String,
        expected: &'static str,
        found: String,
    },
    #[error("missing field {0:?}")]
    Missing(String),
    #[error("unknown field {0:?}")]
    Unknown(String),
}

/// A JSON value read with a repeated key refused (serde_json's `Value`
/// silently keeps the last one).
struct Unique(Value);

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Unique;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Unique, E> {
        Ok(Unique(Value::Bool(b)))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Unique, E> {
        Ok(Unique(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Unique, E> {
        Ok(Unique(n.into()))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Unique, E> {
        Ok(Unique(n.into()))
    }
    fn visit_str<E>(self, s: &str) -> Result<Unique, E> {
        Ok(Unique(Value::String(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<Unique, E> {
        Ok(Unique(Value::String(s)))
    }
    fn visit_unit<E>(self) -> Result<Unique, E> {
        Ok(Unique(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Unique, A::Error> {
        let mut items = Vec::new();
        while let Some(Unique(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Unique(Value::Array(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Unique, A::Error> {
        let mut fields = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if fields.contains_key(&key) {
                return Err(de::Error::custom(format!("key {key:?} given twice")));
            }
            let Unique(v) = map.next_value()?;
            fields.insert(key, v);
        }
        Ok(Unique(Value::Object(fields)))
    }
}

/// What a value is, for messages: `null`, `an array`, `1.0`.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.chars().count() > 80 => "a long string".into(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// A type a field can hold, and how it is read from a JSON value.
pub trait Field: Sized {
    /// What the message says was expected.
    const EXPECTED: &'static str;
    fn from_value(v: &Value) -> Option<Self>;
}

impl Field for String {
    const EXPECTED: &'static str = "a string";
    fn from_value(v: &Value) -> Option<Self> {
        v.as_str().map(str::to_owned)
    }
}

impl Field for u64 {
    const EXPECTED: &'static str = "a whole number from 0 to 18446744073709551615, in digits";
    fn from_value(v: &Value) -> Option<Self> {
        v.as_u64()
    }
}

impl Field for u32 {
    const EXPECTED: &'static str = "a whole number from 0 to 4294967295, in digits";
    fn from_value(v: &Value) -> Option<Self> {
        v.as_u64()?.try_into().ok()
    }
}

impl Field for u16 {
    const EXPECTED: &'static str = "a whole number from 0 to 65535, in digits";
    fn from_value(v: &Value) -> Option<Self> {
        v.as_u64()?.try_into().ok()
    }
}

impl Field for bool {
    const EXPECTED: &'static str = "true or false";
    fn from_value(v: &Value) -> Option<Self> {
        v.as_bool()
    }
}

impl Field for f64 {
    const EXPECTED: &'static str = "a number";
    fn from_value(v: &Value) -> Option<Self> {
        v.as_f64()
    }
}

/// A JSON object whose fields are taken by name and type; `path` names it
/// in messages (`header`, `txs[0]`; empty for the document itself).
#[derive(Debug)]
pub struct Object {
    path: String,
    fields: Map<String, Value>,
}

impl Object {
    /// Reads `text` as one JSON document that must be an object: JSON
    /// whitespace around it only, no key repeated in any object.
    pub fn parse(text: &[u8]) -> Result<Object, JsonError> {
        let Unique(v) = serde_json::from_slice(text)?;
        Object::new(String::new(), v)
    }

    fn new(path: String, v: Value) -> Result<Object, JsonError> {
        match v {
            Value::Object(fields) => Ok(Object { path, fields }),
            other => Err(JsonError::Type {
                what: if path.is_empty() {
                    "the document".into()
                } else {
                    path
                },
                expected: "an object",
                found: describe(&other),
            }),
        }
    }

    fn name(&self, key: &str) -> String {
        match self.path.as_str() {
            "" => key.to_owned(),
            p => format!("{p}.{key}"),
        }
    }

    /// Refuses any field not in `allowed`.
    pub fn only(&self, allowed: &[&str]) -> Result<(), JsonError> {
        match self.fields.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(JsonError::Unknown(self.name(k))),
            None => Ok(()),
        }
    }

    fn required(&mut self, key: &str) -> Result<Value, JsonError> {
        self.fields
            .remove(key)
            .ok_or_else(|| JsonError::Missing(self.name(key)))
    }

    fn typed<T: Field>(&self, key: &str, v: &Value) -> Result<T, JsonError> {
        T::from_value(v).ok_or_else(|| JsonError::Type {
            what: self.name(key),
            expected: T::EXPECTED,
            found: describe(v),
        })
    }

    /// A field that must be present.
    pub fn get<T: Field>(&mut self, key: &str) -> Result<T, JsonError> {
        let v = self.required(key)?;
        self.typed(key, &v)
    }

    /// A field that may be absent (`null` is present, and not a `T`).
    pub fn opt<T: Field>(&mut self, key: &str) -> Result<Option<T>, JsonError> {
        match self.fields.remove(key) {
            None => Ok(None),
            Some(v) => self.typed(key, &v).map(Some),
        }
    }

    /// A field that must be an object.
    pub fn object(&mut self, key: &str) -> Result<Object, JsonError> {
        let v = self.required(key)?;
        Object::new(self.name(key), v)
    }

    /// A field that must be an array of objects.
    pub fn objects(&mut self, key: &str) -> Result<Vec<Object>, JsonError> {
        let name = self.name(key);
        match self.required(key)? {
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| Object::new(format!("{name}[{i}]"), v))
                .collect(),
            other => Err(JsonError::Type {
                what: name,
                expected: "an array",
                found: describe(&other),
            }),
        }
    }
}

/// Writes `v` as compact JSON, as serde_json does, but escaping U+007F to
/// U+009F as well (`\u007f` ... `\u009f`), so that every control character
/// of `docs/FORMAT.md` is an escape.
pub fn to_string_escaped<T: serde::Serialize>(v: &T) -> serde_json::Result<String> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, EscapeC1);
    v.serialize(&mut ser)?;
    Ok(String::from_utf8(out).expect("serde_json writes UTF-8"))
}

/// serde_json's compact formatter, with DEL and the C1 controls escaped.
struct EscapeC1;

impl serde_json::ser::Formatter for EscapeC1 {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if ('\u{7f}'..='\u{9f}').contains(&c) {
                w.write_all(&fragment.as_bytes()[start..i])?;
                write!(w, "\\u{:04x}", u32::from(c))?;
                start = i + c.len_utf8();
            }
        }
        w.write_all(&fragment.as_bytes()[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::hash::sha256;

    #[test]
    fn hashes_are_hex_in_json() {
        let h = Txid(sha256(b"y"));
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, format!("\"{}\"", h.to_hex()));
        assert_eq!(serde_json::from_str::<Txid>(&json).unwrap(), h);
        assert!(serde_json::from_str::<Txid>("\"00\"").is_err());
    }

    #[test]
    fn objects_are_read_strictly() {
        let err = |s: &str| {
            let mut o = Object::parse(s.as_bytes())?;
            o.only(&["n", "s"])?;
            o.opt::<u64>("n")?;
            o.opt::<String>("s")?;
            Ok::<_, JsonError>(())
        };
        assert!(err(r#" {"n":1,"s":"x"} "#).is_ok());
        for bad in [
            "[]",
            "null",
            "1",
            r#"{"n":1,"n":1}"#,
            r#"{"n":-0}"#,
            r#"{"n":1.0}"#,
            r#"{"n":1e0}"#,
            r#"{"n":null}"#,
            r#"{"s":null}"#,
            r#"{"x":1}"#,
            r#"{"s":"\ud800"}"#,
            "\u{feff}{}",
            "{}\u{c}",
            "",
        ] {
            assert!(err(bad).is_err(), "{bad:?} is read");
        }
    }

    #[test]
    fn the_writer_escapes_every_control_character() {
        let s = "\u{0}\u{1f} \u{7f}\u{80}\u{9f}\u{a0}é\"\\";
        let json = to_string_escaped(&s).unwrap();
        assert_eq!(
            json,
            "\"\\u0000\\u001f \\u007f\\u0080\\u009f\u{a0}é\\\"\\\\\""
        );
        assert_eq!(serde_json::from_str::<String>(&json).unwrap(), s);
    }
}
