//! One deserializer for every configuration section, in place of serde's derive.
//!
//! The derive gives each struct a visitor of its own that keeps every field in an `Option` of
//! its own and drops the ones already read on each error path: about 500 bytes of module per
//! field. Here each section starts from its `Default` and reads a field into place, so a
//! section costs one `match` of its fields. It answers what the derive did for a struct with
//! `#[serde(deny_unknown_fields, default)]`: the same errors (unknown field, duplicate field,
//! `expected struct X`), a JSON array read as the fields in order, missing fields defaulted.
//!
//! The enums of unit variants (`"POST"`, `"sha256"`) share one deserializer likewise
//! ([`unit_enum!`]).

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::Deserialize as _;
use std::fmt;
use std::marker::PhantomData;

/// A section: a struct whose missing fields take their `Default`, or are refused.
pub(crate) trait Section: Default {
    /// The struct's name (serde's `expected struct JwtSection`).
    const NAME: &'static str;
    /// Its JSON field names, in declaration order (a JSON array lists them in this order).
    const FIELDS: &'static [&'static str];
    /// Every field must be given (serde's derive without `#[serde(default)]`).
    const REQUIRED: bool;
    /// Reads field `index` (of [`Self::FIELDS`]) from `de`.
    fn read<'de, D: Deserializer<'de>>(&mut self, index: usize, de: D) -> Result<(), D::Error>;
}

/// `Deserialize::deserialize` of every section.
pub(crate) fn deserialize<'de, S: Section, D: Deserializer<'de>>(de: D) -> Result<S, D::Error> {
    de.deserialize_struct(S::NAME, S::FIELDS, SectionVisitor(PhantomData))
}

struct SectionVisitor<S>(PhantomData<S>);

impl<'de, S: Section> Visitor<'de> for SectionVisitor<S> {
    type Value = S;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "struct {}", S::NAME)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<S, A::Error> {
        let mut section = S::default();
        let mut read = |index, map: &mut A| {
            map.next_value_seed(Slot {
                section: &mut section,
                index,
            })
        };
        read_fields(&mut map, S::FIELDS, S::REQUIRED, &mut read)?;
        Ok(section)
    }
}

/// A section's own part of [`read_fields`]: reads field `index`'s value into place.
type ReadField<'r, 'de, A> =
    &'r mut dyn FnMut(usize, &mut A) -> Result<(), <A as MapAccess<'de>>::Error>;

/// The loop of every section's `visit_map`, one copy for all of them: reads each field
/// named in `fields` with `read`, refuses names given twice and, when `required`, missing.
#[inline(never)]
fn read_fields<'de, A: MapAccess<'de>>(
    map: &mut A,
    fields: &'static [&'static str],
    required: bool,
    read: ReadField<'_, 'de, A>,
) -> Result<(), A::Error> {
    // Sections have fewer than 64 fields (the `section!` macro checks).
    let mut seen = 0u64;
    while let Some(index) = map.next_key_seed(FieldIndex(fields))? {
        let bit = 1u64 << (index % 64);
        if seen & bit != 0 {
            let name = fields.get(index).copied().unwrap_or_default();
            return Err(de::Error::duplicate_field(name));
        }
        seen |= bit;
        read(index, map)?;
    }
    let mut missing = (0..fields.len()).filter(|index| seen & (1u64 << (index % 64)) == 0);
    if let (true, Some(index)) = (required, missing.next()) {
        let name = fields.get(index).copied().unwrap_or_default();
        return Err(de::Error::missing_field(name));
    }
    Ok(())
}

/// Reads one field of a section into place.
struct Slot<'a, S> {
    section: &'a mut S,
    index: usize,
}

impl<'de, S: Section> DeserializeSeed<'de> for Slot<'_, S> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        self.section.read(self.index, de)
    }
}

/// A field name, as its index in the section's names; any other name is refused.
struct FieldIndex(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for FieldIndex {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<usize, D::Error> {
        de.deserialize_identifier(self)
    }
}

impl Visitor<'_> for FieldIndex {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field identifier")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<usize, E> {
        match self.0.iter().position(|name| *name == value) {
            Some(index) => Ok(index),
            None => Err(E::unknown_field(value, self.0)),
        }
    }
}

/// Declares a section struct (attributes, doc comments and fields as written) and implements
/// [`Section`] and `Deserialize` for it. Every field is `pub` and ends with a comma. A leading
/// `required;` makes every field required.
macro_rules! section {
    (required; $($section:tt)*) => {
        $crate::config::section::section!(@ true; $($section)*);
    };
    ($(#[$meta:meta])* pub struct $($section:tt)*) => {
        $crate::config::section::section!(@ false; $(#[$meta])* pub struct $($section)*);
    };
    (
        @ $required:literal;
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$field_meta:meta])* pub $field:ident: $ty:ty, )*
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $( $(#[$field_meta])* pub $field: $ty, )*
        }

        impl $crate::config::section::Section for $name {
            const NAME: &'static str = stringify!($name);
            const FIELDS: &'static [&'static str] = &[$(stringify!($field)),*];
            const REQUIRED: bool = $required;

            fn read<'de, D: serde::Deserializer<'de>>(
                &mut self,
                index: usize,
                de: D,
            ) -> Result<(), D::Error> {
                // The fields' indices, in declaration order.
                #[allow(non_camel_case_types)]
                enum Field { $($field),* }
                const _: () = assert!(<$name as $crate::config::section::Section>::FIELDS.len() < 64);
                $(
                    if index == Field::$field as usize {
                        self.$field = <$ty as $crate::config::section::FieldValue>::read(de)?;
                        return Ok(());
                    }
                )*
                Ok(())
            }
        }

        impl $crate::config::section::Plain for $name {}

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
                $crate::config::section::deserialize(de)
            }
        }
    };
}
pub(crate) use section;

/// A value read as serde reads its type: a section, a unit enum, a string, a number, a JSON
/// value. Lists and options of them are [`FieldValue`]s too.
pub(crate) trait Plain: serde::de::DeserializeOwned {}

impl Plain for String {}
impl Plain for bool {}
impl Plain for u64 {}
impl Plain for serde_json::Value {}
impl<T: super::secret::Wipe + serde::de::DeserializeOwned> Plain for super::secret::Secret<T> {}

/// How a section reads one field: as serde reads its type, except that a list also takes an
/// empty object. Kong hands a filter its `config` encoded by Lua's cjson, which writes an empty
/// table as `{}`, and a configuration read back from Kong's database or its declarative cache
/// no longer marks its empty arrays as arrays (review: Kong's own export of the jwt plugin,
/// `cookie_names: []`, reached the filter as `{}` and was refused).
pub(crate) trait FieldValue: Sized {
    fn read<'de, D: Deserializer<'de>>(de: D) -> Result<Self, D::Error>;
}

impl<T: Plain> FieldValue for T {
    fn read<'de, D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        T::deserialize(de)
    }
}

impl<T: Plain> FieldValue for Option<T> {
    fn read<'de, D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(de)
    }
}

impl<T: Plain> FieldValue for Vec<T> {
    fn read<'de, D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_any(ListVisitor(PhantomData))
    }
}

impl<T: Plain> FieldValue for Option<Vec<T>> {
    fn read<'de, D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_option(OptionalList(PhantomData))
    }
}

/// A JSON array of `T`, or an empty object (see [`FieldValue`]).
struct ListVisitor<T>(PhantomData<T>);

impl<'de, T: Plain> Visitor<'de> for ListVisitor<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element()? {
            out.push(item);
        }
        Ok(out)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<T>, A::Error> {
        match map.next_key::<de::IgnoredAny>()? {
            None => Ok(Vec::new()),
            Some(_) => Err(de::Error::invalid_type(de::Unexpected::Map, &self)),
        }
    }
}

/// `null`, or a [`ListVisitor`] list.
struct OptionalList<T>(PhantomData<T>);

impl<'de, T: Plain> Visitor<'de> for OptionalList<T> {
    type Value = Option<Vec<T>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("option")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        Vec::<T>::read(de).map(Some)
    }
}

/// `Deserialize::deserialize` of a [`unit_enum!`]: the index of the variant named `"x"` in
/// `variants`. Only the string form: serde's derive also reads `{"x": null}`, which the
/// schema Kong validates with refuses.
pub(crate) fn variant<'de, D: Deserializer<'de>>(
    de: D,
    name: &'static str,
    variants: &'static [&'static str],
) -> Result<usize, D::Error> {
    de.deserialize_str(VariantIndex(name, variants))
}

/// A variant name, as its index; any other name is refused.
struct VariantIndex(&'static str, &'static [&'static str]);

impl Visitor<'_> for VariantIndex {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "enum {}", self.0)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<usize, E> {
        match self.1.iter().position(|name| *name == value) {
            Some(index) => Ok(index),
            None => Err(E::unknown_variant(value, self.1)),
        }
    }
}

/// Declares an enum of unit variants, each written `Variant = "json name",`, and implements
/// `Deserialize` for it (test builds serialise it under the same names).
macro_rules! unit_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        pub enum $name {
            $( $(#[$variant_meta])* #[cfg_attr(test, serde(rename = $text))] $variant, )*
        }

        impl $crate::config::section::Plain for $name {}

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
                const ALL: &[$name] = &[$($name::$variant),*];
                let index = $crate::config::section::variant(de, stringify!($name), &[$($text),*])?;
                // `variant` answers only indices of the names.
                ALL.get(index)
                    .copied()
                    .ok_or_else(|| serde::de::Error::custom("unknown variant"))
            }
        }
    };
}
pub(crate) use unit_enum;
