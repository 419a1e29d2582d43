//! clap parsers built from the library's tables of named values (`certgpo::named`),
//! so `--help`, the accepted names and the library's meaning are one definition.

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};

use certgpo::named::Named;

/// The parser for a `--flag NAME` whose names are `T::ALL`.
pub fn parser<T: Named + Clone>() -> impl TypedValueParser<Value = T> {
    let values = T::ALL.iter().map(|v| {
        let p = PossibleValue::new(v.name());
        match v.help() {
            "" => p,
            help => p.help(help),
        }
    });
    PossibleValuesParser::new(values).try_map(|name: String| {
        T::ALL
            .iter()
            .copied()
            .find(|v| v.name() == name)
            .ok_or_else(|| format!("unknown value {name:?}"))
    })
}
