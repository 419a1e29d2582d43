//! The XML underneath every GPMC file: one reader (a walker over quick-xml's pull
//! parser) and the escaping every writer uses. Both keep to XML 1.0 (the W3C
//! recommendation, section 2.2 `Char`): the writers replace what XML 1.0 cannot carry,
//! the reader refuses it, so certgpo never writes or accepts a file `xmllint` would
//! reject for its characters.
//!
//! The reader does no DTD processing and knows no custom entity, so a hostile file
//! cannot expand; it bounds the nesting depth, so a deeply nested file is refused in
//! time linear in its size.

use crate::text::{is_xml_char, xml_chars};
use quick_xml::events::Event;

use super::GpoReadError;
use crate::codec::Short;

/// How deep elements may nest. GPMC's files are shallow: the real ones in tests/data
/// nest 5 levels (Backup.xml), 2 (bkupInfo.xml), 3 (manifest.xml) and at most 8
/// (gpreport.xml, whose other extensions add a level or two); 64 leaves ample room
/// and bounds the work per element, so a hostile file costs time linear in its size.
pub const MAX_DEPTH: usize = 64;

/// XML 1.0 `Name` (section 2.3 of the recommendation): what an element or attribute
/// may be called.
fn is_name(s: &str) -> bool {
    let start = |c: char| {
        matches!(c, ':' | 'A'..='Z' | '_' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}'
            | '\u{F8}'..='\u{2FF}' | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}'
            | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}'
            | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
            | '\u{10000}'..='\u{EFFFF}')
    };
    let rest = |c: char| {
        start(c)
            || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
    };
    let mut chars = s.chars();
    chars.next().is_some_and(start) && chars.all(rest)
}

/// Text inside a CDATA section: `]]>` cannot appear there, so it is split across two
/// sections, the standard escape.
pub fn cdata(s: &str) -> String {
    format!(
        "<![CDATA[{}]]>",
        xml_chars(s).replace("]]>", "]]]]><![CDATA[>")
    )
}

/// Text or attribute content, XML-escaped (`& < > ' "`).
pub fn text(s: &str) -> String {
    quick_xml::escape::escape(xml_chars(s).as_ref()).into_owned()
}

/// Decode an XML file's bytes: UTF-16LE (gpreport.xml) or UTF-8.
fn decode(bytes: &[u8], file: &str) -> Result<crate::codec::Text, GpoReadError> {
    crate::codec::decode_text(bytes).map_err(|e| GpoReadError::Encoding {
        file: file.to_string(),
        source: match e {
            crate::codec::TextError::Utf16(short) => short,
            crate::codec::TextError::Utf8 { offset } => Short {
                offset,
                expected: "UTF-8 text (or UTF-16LE with a BOM)".into(),
            },
        },
    })
}

/// What the walker reports to its caller.
pub(crate) enum Node<'a> {
    /// An element opened; `path` includes it, by local names. Attributes by their
    /// names as written (`bkp:ID`); [`attr`] looks one up by local name.
    Open {
        path: &'a [String],
        attrs: &'a [(String, String)],
    },
    /// An element closed, with the text and CDATA directly inside it.
    Close { path: &'a [String], text: &'a str },
}

/// Walk a whole XML document by local element names, checking it is well formed
/// and that its root is `root`.
pub(crate) fn walk(
    bytes: &[u8],
    file: &str,
    root: &'static str,
    mut visit: impl FnMut(Node) -> Result<(), GpoReadError>,
) -> Result<(), GpoReadError> {
    let decoded = decode(bytes, file)?;
    let text = &decoded.text;
    let xml_error = |pos: usize, what: String| GpoReadError::Xml {
        file: file.to_string(),
        offset: decoded.file_offset(pos),
        what,
    };
    let not_a_char = |pos: usize, c: char| {
        xml_error(
            pos,
            format!(
                "the character U+{:04X}, which XML 1.0 does not allow in a document",
                u32::from(c)
            ),
        )
    };
    if let Some((pos, c)) = text.char_indices().find(|(_, c)| !is_xml_char(*c)) {
        return Err(not_a_char(pos, c));
    }
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    reader.config_mut().check_comments = true;
    let mut path: Vec<String> = Vec::new();
    // The text of each open element (only the innermost one is ever appended to).
    let mut texts: Vec<String> = Vec::new();
    let mut attrs: Vec<(String, String)> = Vec::new();
    let mut seen_root = false;
    loop {
        let at = reader.buffer_position() as usize;
        let event = reader
            .read_event()
            .map_err(|e| xml_error(reader.error_position() as usize, e.to_string()))?;
        match event {
            Event::Start(_) | Event::Empty(_) if path.is_empty() && seen_root => {
                return Err(xml_error(at, "a second root element".into()));
            }
            Event::Start(_) | Event::Empty(_) if path.len() == MAX_DEPTH => {
                return Err(GpoReadError::TooDeep {
                    file: file.to_string(),
                    offset: decoded.file_offset(at),
                    limit: MAX_DEPTH,
                });
            }
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let qualified = e.name();
                if !is_name(qualified.as_ref()) {
                    return Err(xml_error(
                        at,
                        format!("<{}> is not an XML name", qualified.as_ref()),
                    ));
                }
                let name = local(qualified.as_ref()).to_string();
                if path.is_empty() {
                    seen_root = true;
                    if name != root {
                        return Err(GpoReadError::Root {
                            file: file.to_string(),
                            expected: root,
                            found: name,
                        });
                    }
                }
                attrs.clear();
                for a in e.attributes() {
                    let a = a.map_err(|err| xml_error(at, err.to_string()))?;
                    if !is_name(a.key.as_ref()) {
                        return Err(xml_error(
                            at,
                            format!("the attribute {:?} is not an XML name", a.key.as_ref()),
                        ));
                    }
                    if a.value.contains('<') {
                        return Err(xml_error(at, "'<' in an attribute value".into()));
                    }
                    let value = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|err| xml_error(at, err.to_string()))?;
                    // A character reference can name what the text itself may not hold.
                    if let Some(c) = value.chars().find(|c| !is_xml_char(*c)) {
                        return Err(not_a_char(at, c));
                    }
                    let key = a.key.as_ref().to_string();
                    attrs.push((key, value.into_owned()));
                }
                path.push(name);
                texts.push(String::new());
                visit(Node::Open {
                    path: &path,
                    attrs: &attrs,
                })?;
                if empty {
                    visit(Node::Close {
                        path: &path,
                        text: "",
                    })?;
                    path.pop();
                    texts.pop();
                }
            }
            Event::End(_) => {
                let body = texts.pop().unwrap_or_default();
                visit(Node::Close {
                    path: &path,
                    text: &body,
                })?;
                path.pop();
            }
            Event::Text(t) => {
                if t.contains("]]>") {
                    return Err(xml_error(at, "']]>' outside a CDATA section".into()));
                }
                let content = t.xml10_content();
                match texts.last_mut() {
                    Some(buf) => buf.push_str(&content),
                    None if content.trim().is_empty() => {}
                    None => return Err(xml_error(at, "text outside the root element".into())),
                }
            }
            Event::CData(t) => match texts.last_mut() {
                Some(buf) => buf.push_str(&t.xml10_content()),
                None => return Err(xml_error(at, "CDATA outside the root element".into())),
            },
            Event::GeneralRef(r) => {
                let ch = match r.resolve_char_ref() {
                    Ok(Some(c)) if is_xml_char(c) => c,
                    Ok(Some(c)) => return Err(not_a_char(at, c)),
                    Ok(None) => match r.xml10_content().as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => {
                            return Err(xml_error(
                                at,
                                format!(
                                    "unknown entity &{other}; (only the five XML entities are allowed)"
                                ),
                            ));
                        }
                    },
                    Err(e) => return Err(xml_error(at, e.to_string())),
                };
                if let Some(buf) = texts.last_mut() {
                    buf.push(ch);
                }
            }
            Event::DocType(_) => {
                return Err(xml_error(
                    at,
                    "a DOCTYPE declaration (GPMC files have none; refused so no entity can expand)"
                        .into(),
                ));
            }
            Event::Eof => {
                if let Some(open) = path.last() {
                    return Err(xml_error(
                        text.len(),
                        format!("the file ends inside <{open}> (truncated?)"),
                    ));
                }
                if !seen_root {
                    return Err(xml_error(text.len(), format!("no <{root}> element")));
                }
                return Ok(());
            }
            Event::Decl(d) => {
                if at != 0 {
                    return Err(xml_error(
                        at,
                        "an XML declaration that is not at the start of the file".into(),
                    ));
                }
                check_declaration(&d, decoded.encoding.is_utf16())
                    .map_err(|what| xml_error(at, what))?;
            }
            Event::PI(_) | Event::Comment(_) => {}
        }
    }
}

/// The XML declaration: version 1.x, and an encoding label that matches the bytes
/// (a label is what `xmllint` goes by without a BOM).
fn check_declaration(d: &quick_xml::events::BytesDecl, utf16: bool) -> Result<(), String> {
    let version = d.version().map_err(|e| e.to_string())?;
    if !version.starts_with("1.") {
        return Err(format!("XML version {version:?} (certgpo reads XML 1.0)"));
    }
    let Some(label) = d.encoding() else {
        return Ok(());
    };
    let label = label.map_err(|e| e.to_string())?.to_ascii_lowercase();
    match label.as_str() {
        "utf-8" | "utf8" => Ok(()),
        "utf-16" | "utf16" | "utf-16le" if utf16 => Ok(()),
        "utf-16" | "utf16" | "utf-16le" => Err(
            "the declaration says UTF-16 but the file is UTF-8 (no UTF-16 byte order mark)".into(),
        ),
        other => Err(format!(
            "the encoding {other:?} (GPMC writes UTF-8 or UTF-16; certgpo reads only those)"
        )),
    }
}

/// The local part of a (possibly prefixed) XML name.
pub(super) fn local(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, l)| l)
}

/// An attribute's value by local name, or "" when absent.
pub(crate) fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> &'a str {
    attrs
        .iter()
        .find(|(k, _)| local(k) == name)
        .map_or("", |(_, v)| v.as_str())
}

/// True for a namespace declaration (`xmlns`, `xmlns:p`), which every element may carry.
pub(super) fn is_namespace_declaration(name: &str) -> bool {
    name == "xmlns" || name.starts_with("xmlns:")
}

/// A decimal element value; an empty element counts as 0.
pub(super) fn number(file: &str, element: &str, text: &str) -> Result<u32, GpoReadError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(0);
    }
    t.parse().map_err(|_| GpoReadError::Value {
        file: file.to_string(),
        element: element.to_string(),
        found: t.chars().take(40).collect(),
        expected: "a decimal number up to 4294967295",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_only(xml: &[u8]) -> Result<(), GpoReadError> {
        walk(xml, "f.xml", "R", |_| Ok(()))
    }

    #[test]
    fn writers_escape_and_keep_to_xml_chars() {
        assert_eq!(cdata("a]]>b"), "<![CDATA[a]]]]><![CDATA[>b]]>");
        assert_eq!(text("<&>\"'"), "&lt;&amp;&gt;&quot;&apos;");
        assert_eq!(
            text("a\u{1b}b\0c\u{1}\u{FFFE}\td"),
            "a\u{FFFD}b\u{FFFD}c\u{FFFD}\u{FFFD}\td"
        );
        assert_eq!(cdata("\u{1b}"), "<![CDATA[\u{FFFD}]]>");
        // What the writers produce, the reader accepts.
        let doc = format!(
            "<R a=\"{}\">{}{}</R>",
            text("\u{1b}<"),
            text("\u{0}"),
            cdata("\u{1}")
        );
        assert!(root_only(doc.as_bytes()).is_ok());
    }

    #[test]
    fn the_reader_refuses_what_xml_forbids() {
        for bad in [
            &b"<R>a\x1bb</R>"[..],
            b"<R>&#27;</R>",
            b"<R a=\"&#x1;\"/>",
            b"<R>&#xFFFF;</R>",
            b"<R><!-- a -- b --></R>",
            // What xmllint refuses beyond characters.
            b"<R a=\"<\"/>",
            b"<R><1a/></R>",
            b"<R 1a=\"x\"/>",
            b"<R>]]></R>",
            b" <?xml version=\"1.0\"?><R/>",
            b"<?xml version=\"2.0\"?><R/>",
            b"<?xml version=\"1.0\" encoding=\"bogus\"?><R/>",
            b"<?xml version=\"1.0\" encoding=\"utf-16\"?><R/>",
        ] {
            let e = root_only(bad).unwrap_err();
            assert!(matches!(e, GpoReadError::Xml { .. }), "{e}");
        }
        let e = root_only(b"<R>ok\x1b</R>").unwrap_err();
        assert!(
            e.to_string().contains("offset 5") && e.to_string().contains("U+001B"),
            "{e}"
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = |n: usize| format!("{}{}", "<R>".repeat(n), "</R>".repeat(n));
        assert!(root_only(deep(MAX_DEPTH).as_bytes()).is_ok());
        let e = root_only(deep(MAX_DEPTH + 1).as_bytes()).unwrap_err();
        assert_eq!(
            e,
            GpoReadError::TooDeep {
                file: "f.xml".into(),
                offset: 3 * MAX_DEPTH,
                limit: MAX_DEPTH
            }
        );
    }
}
