//! The cross-script identity engine of Homeward.
//!
//! One man is "Олександр Коваленко" to his mother, "Александр Коваленко" on the other side's
//! list and "Oleksandr Kovalenko" in his passport. This crate turns such spellings into forms
//! that can be compared:
//! - [`normalize`](normalize()) canonicalises a name (Unicode, case, stress marks, apostrophes,
//!   spacing, look-alike letters typed in the wrong script) and hints at its language;
//! - [`to_latin`] and [`to_cyrillic`] transliterate with the official tables (Ukrainian national
//!   2010, Russian ICAO Doc 9303, GOST 7.79-2000 System B, BGN/PCGN) for display;
//! - [`fold_name`] and [`fold_token`] give one Latin key per token on which the variants of all
//!   those tables collide, for blocking and scoring;
//! - [`name_classes`] and [`same_name_class`] say which given names and patronymics are forms
//!   of one name across Ukrainian, Russian and English (Олександр ≡ Александр ≡ Alexander),
//!   from data generated out of the MIT-licensed `names-translator` package.
//!
//! Pure functions only: no I/O, no async, no global state beyond the embedded name classes
//! (parsed once, then read-only), no logging (the text is personal data). Every entry point caps its input (see [`MAX_INPUT_CHARS`], [`MAX_NAME_CHARS`],
//! [`MAX_TOKEN_CHARS`]) so time and output size are bounded, and none may panic on any input.
//!
//! On top of the text layer:
//! - [`compile`] turns an [`Identity`] (names in any script and order, birth date, sex, unit,
//!   service and document numbers) into its comparable form;
//! - [`compare`] scores two of them Fellegi–Sunter style, with frequency-adjusted name weights,
//!   a calibrated confidence and a field-by-field explanation;
//! - [`Index`] is the in-memory candidate index that searches, matches and finds duplicates.
//!
//! The engine never decides that two people are the same: it says how likely that is and
//! why, and caps what names alone can say; merging is a person's decision.
#![forbid(unsafe_code)]

pub mod classes;
pub mod fold;
pub mod index;
pub mod normalize;
pub mod record;
pub mod score;
pub mod translit;

pub use classes::{
    ClassId, ClassKind, class_count, class_ids, class_initials, class_kind, class_members,
    name_classes, same_name_class,
};
pub use fold::{fold_name, fold_normalized, fold_token};
pub use index::{DuplicatePair, EntryId, Hit, Index, Pairing, SearchOptions, reconcile};
pub use normalize::{
    LanguageHint, MAX_INPUT_CHARS, MAX_NAME_CHARS, MAX_TOKEN_CHARS, NormalizedName, language_hint,
    normalize,
};
pub use record::{BirthDate, Compiled, Identity, Name, Role, Sex, compile};
pub use score::{Comparison, DateLevel, Frequencies, NameLevel, TypicalFrequencies, compare};
pub use translit::{ReverseTable, Table, to_cyrillic, to_latin};
