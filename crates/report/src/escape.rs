//! Escaping text from the scenario or the service for the markup the
//! renderers write: one set of entities, three places (HTML and XML
//! content and attributes, a Markdown table cell, a Markdown line).

/// `&`, `<`, `>` as entities, and `"`, `'` too when `quotes`; control
/// characters other than newline, tab and carriage return dropped: XML
/// forbids C0, and DEL and C1 (a one-byte CSI among them) are no text a
/// reader wants, in a file that may be printed on a terminal.
fn entities(s: &str, quotes: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if quotes => out.push_str("&quot;"),
            // &#39; (not &apos;) is valid in HTML 4 and XML alike.
            '\'' if quotes => out.push_str("&#39;"),
            c if c.is_control() && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// For HTML and XML content and attribute values.
pub fn markup(s: &str) -> String {
    entities(s, true)
}

/// For a Markdown table cell: no raw HTML, no cell break, one line.
pub fn markdown_cell(s: &str) -> String {
    entities(s, false).replace('|', "\\|").replace('\n', " ")
}

/// For a Markdown line (a list item): no raw HTML, one line. A `>` inside
/// a line is plain text, so it stays as written (every `&` of the input is
/// already `&amp;`, so only the escaped `>` reads `&gt;` here).
pub fn markdown_line(s: &str) -> String {
    entities(s, false).replace("&gt;", ">").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_stays_text() {
        let s = "<script>a=\"b\"&'c'</script>|x\ny\u{1}\u{7f}\u{9b}";
        assert_eq!(
            markup(s),
            "&lt;script&gt;a=&quot;b&quot;&amp;&#39;c&#39;&lt;/script&gt;|x\ny"
        );
        assert_eq!(
            markdown_cell(s),
            "&lt;script&gt;a=\"b\"&amp;'c'&lt;/script&gt;\\|x y"
        );
        assert_eq!(
            markdown_line(s),
            "&lt;script>a=\"b\"&amp;'c'&lt;/script>|x y"
        );
        assert_eq!(markdown_line("&gt; >"), "&amp;gt; >");
    }
}
