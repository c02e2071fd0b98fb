//! Reading reactors from a job file: [`Reactive`] from a number, an expression string or a
//! `{ feature, scale, offset }` table, and [`Var`] from a feature name. Mistakes are reported
//! through serde, so the TOML error names the line.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

use super::names::var_list;
use super::{Reactive, Var};

impl<'de> Deserialize<'de> for Var {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Var, D::Error> {
        struct VarVisitor;
        impl Visitor<'_> for VarVisitor {
            type Value = Var;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "the name of an audio feature ({})", var_list())
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Var, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(VarVisitor)
    }
}

/// A number that fits a finite `f32`.
fn finite_f32(v: f64) -> Result<f32, String> {
    if !v.is_finite() {
        return Err(format!("expected a finite number, got {v}"));
    }
    let f = v as f32;
    if !f.is_finite() {
        return Err(format!(
            "{v} is too large: numbers must lie within -3.4e38..3.4e38"
        ));
    }
    Ok(f)
}

/// A finite number in a reactor table (its own type so that errors point at the value).
struct TableNumber(f32);

impl<'de> Deserialize<'de> for TableNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TableNumber, D::Error> {
        struct NumberVisitor;
        impl Visitor<'_> for NumberVisitor {
            type Value = TableNumber;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<TableNumber, E> {
                finite_f32(v).map(TableNumber).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<TableNumber, E> {
                Ok(TableNumber(v as f32))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<TableNumber, E> {
                Ok(TableNumber(v as f32))
            }
        }
        deserializer.deserialize_f64(NumberVisitor)
    }
}

const TABLE_FIELDS: &[&str] = &["feature", "scale", "offset"];

struct ReactiveVisitor;

impl<'de> Visitor<'de> for ReactiveVisitor {
    type Value = Reactive;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a number, an expression string such as \"0.5 + 0.5 * pulse\", or a table such as \
             { feature = \"bass\", scale = 0.2, offset = 1.0 }",
        )
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Reactive, E> {
        finite_f32(v).map(Reactive::Const).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Reactive, E> {
        Ok(Reactive::Const(v as f32))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Reactive, E> {
        Ok(Reactive::Const(v as f32))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Reactive, E> {
        Reactive::parse(v).map_err(|e| {
            if v.chars().count() <= 80 {
                E::custom(format!("invalid expression \"{v}\": {e}"))
            } else {
                E::custom(format!("invalid expression: {e}"))
            }
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Reactive, A::Error> {
        let mut feature = None;
        let mut scale = None;
        let mut offset = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "feature" if feature.is_none() => feature = Some(map.next_value::<Var>()?),
                "scale" if scale.is_none() => scale = Some(map.next_value::<TableNumber>()?.0),
                "offset" if offset.is_none() => offset = Some(map.next_value::<TableNumber>()?.0),
                "feature" => return Err(de::Error::duplicate_field("feature")),
                "scale" => return Err(de::Error::duplicate_field("scale")),
                "offset" => return Err(de::Error::duplicate_field("offset")),
                other => return Err(de::Error::unknown_field(other, TABLE_FIELDS)),
            }
        }
        let Some(feature) = feature else {
            return Err(de::Error::custom(format!(
                "a reactor table needs feature = \"NAME\", one of {}",
                var_list()
            )));
        };
        Ok(Reactive::feature(
            feature,
            scale.unwrap_or(1.0),
            offset.unwrap_or(0.0),
        ))
    }
}

impl<'de> Deserialize<'de> for Reactive {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Reactive, D::Error> {
        deserializer.deserialize_any(ReactiveVisitor)
    }
}
