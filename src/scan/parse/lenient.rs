//! Field deserialisers that accept what real tools write: numbers as strings, strings as
//! numbers, `null` for anything. Each reads the token directly (no `serde_json::Value` in
//! between), because these run for every field of every finding in reports of millions.

use std::fmt;

use serde::de::{self, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A scalar as whatever the tool wrote, before the field decides what it wants.
enum Scalar {
    Text(String),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Bool(bool),
    Nothing,
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, number, boolean or null")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Text(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar::Text(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar::Unsigned(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar::Signed(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::Float(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Nothing)
    }
    fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Nothing)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
        d.deserialize_any(self)
    }
    // Objects and arrays where a scalar belongs are read past, as if absent.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Nothing)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Nothing)
    }
}

impl Scalar {
    fn as_f64(&self) -> Option<f64> {
        match self {
            Scalar::Unsigned(n) => Some(*n as f64),
            Scalar::Signed(n) => Some(*n as f64),
            Scalar::Float(f) => Some(*f),
            Scalar::Text(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        }
    }

    fn into_text(self) -> Option<String> {
        match self {
            Scalar::Text(s) => Some(s),
            Scalar::Unsigned(n) => Some(n.to_string()),
            Scalar::Signed(n) => Some(n.to_string()),
            Scalar::Float(f) => Some(serde_json::Number::from_f64(f)?.to_string()),
            Scalar::Bool(b) => Some(b.to_string()),
            Scalar::Nothing => None,
        }
    }
}

/// A number written as a number, a numeric string, or missing/null (0).
pub fn number<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let scalar = Scalar::deserialize(d)?;
    Ok(match scalar {
        Scalar::Unsigned(n) => n,
        other => other.as_f64().map_or(0, |f| f.max(0.0) as u64),
    })
}

/// A score written as a number or a numeric string.
pub fn score<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let scalar = Scalar::deserialize(d)?;
    Ok(match scalar {
        Scalar::Bool(_) => None,
        other => other.as_f64(),
    }
    .filter(|s| s.is_finite()))
}

/// Text written as a string, a number, or missing/null (empty).
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Scalar::deserialize(d)?.into_text().unwrap_or_default())
}

/// A list of strings, or one string, or null; items that are not strings or numbers are
/// skipped.
pub fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    d.deserialize_any(StringsVisitor)
}

struct StringsVisitor;

impl<'de> Visitor<'de> for StringsVisitor {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of strings, a string or null")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<String>, E> {
        Ok(vec![v.to_string()])
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Vec<String>, E> {
        Ok(vec![v])
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Scalar>()? {
            match item {
                Scalar::Text(s) => items.push(s),
                Scalar::Unsigned(n) => items.push(n.to_string()),
                Scalar::Signed(n) => items.push(n.to_string()),
                Scalar::Float(f) => items.extend(Scalar::Float(f).into_text()),
                _ => {}
            }
        }
        Ok(items)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Vec::new())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Vec<String>, E> {
        Ok(Vec::new())
    }
    fn visit_none<E: de::Error>(self) -> Result<Vec<String>, E> {
        Ok(Vec::new())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Vec<String>, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Vec<String>, E> {
        Ok(Vec::new())
    }
    // As before: only strings and arrays are lists; a lone number or boolean is none.
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Vec<String>, E> {
        Ok(Vec::new())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Vec<String>, E> {
        Ok(Vec::new())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Vec<String>, E> {
        Ok(Vec::new())
    }
}

/// A sequence that may be null.
pub fn seq<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}
