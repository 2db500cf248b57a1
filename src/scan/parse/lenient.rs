//! Field deserialisers that accept what real tools write: numbers as strings, strings as
//! numbers, `null` for anything. Each reads the token directly (no `serde_json::Value` in
//! between), because these run for every field of every finding in reports of millions.

use std::fmt;

use serde::de::{self, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A scalar as whatever the tool wrote, before the field decides what it wants (a list of
/// scalars for the fields that take one).
enum Scalar {
    Text(String),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Bool(bool),
    List(Vec<Scalar>),
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
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Scalar::List(items))
    }
    // An object where a scalar belongs is read past, as if absent.
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
            Scalar::List(_) | Scalar::Nothing => None,
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
/// skipped, and a lone number or boolean is no list.
pub fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Scalar::deserialize(d)? {
        Scalar::Text(s) => vec![s],
        Scalar::List(items) => items
            .into_iter()
            .filter(|item| !matches!(item, Scalar::Bool(_)))
            .filter_map(Scalar::into_text)
            .collect(),
        _ => Vec::new(),
    })
}

/// A sequence that may be null.
pub fn seq<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}
