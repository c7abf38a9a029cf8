//! Just enough JSON for a plugin config: Traefik hands the middleware's options to the guest as
//! the JSON encoding of a map (`get_config`). No dependency, so the modules stay small and the
//! floor and the wasmexport guest share every byte of it.

/// A JSON value; objects keep their members in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`
    Null,
    /// `true` or `false`
    Bool(bool),
    /// Any number.
    Number(f64),
    /// A string, unescaped.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object's members, in the order written.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Parses one JSON document.
pub fn parse(text: &[u8]) -> Result<Value, String> {
    let mut p = Parser { text, at: 0 };
    let value = p.value(0)?;
    p.space();
    if p.at != text.len() {
        return Err(format!("unexpected text at byte {}", p.at));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn space(&mut self) {
        while self.text.get(self.at).is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    fn error<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.at))
    }

    fn eat(&mut self, word: &str) -> bool {
        let found = self.text[self.at..].starts_with(word.as_bytes());
        if found {
            self.at += word.len();
        }
        found
    }

    fn value(&mut self, depth: u32) -> Result<Value, String> {
        if depth > 32 {
            return self.error("nested too deep");
        }
        self.space();
        match self.text.get(self.at) {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ if self.eat("true") => Ok(Value::Bool(true)),
            _ if self.eat("false") => Ok(Value::Bool(false)),
            _ if self.eat("null") => Ok(Value::Null),
            _ => self.error("expected a value"),
        }
    }

    fn object(&mut self, depth: u32) -> Result<Value, String> {
        self.at += 1;
        let mut members = Vec::new();
        self.space();
        if self.eat("}") {
            return Ok(Value::Object(members));
        }
        loop {
            self.space();
            if self.text.get(self.at) != Some(&b'"') {
                return self.error("expected a member name");
            }
            let key = self.string()?;
            self.space();
            if !self.eat(":") {
                return self.error("expected `:`");
            }
            members.push((key, self.value(depth + 1)?));
            self.space();
            if self.eat("}") {
                return Ok(Value::Object(members));
            }
            if !self.eat(",") {
                return self.error("expected `,` or `}`");
            }
        }
    }

    fn array(&mut self, depth: u32) -> Result<Value, String> {
        self.at += 1;
        let mut items = Vec::new();
        self.space();
        if self.eat("]") {
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.space();
            if self.eat("]") {
                return Ok(Value::Array(items));
            }
            if !self.eat(",") {
                return self.error("expected `,` or `]`");
            }
        }
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.at;
        while self.text.get(self.at).is_some_and(|b| b"+-.eE0123456789".contains(b)) {
            self.at += 1;
        }
        let digits = std::str::from_utf8(&self.text[start..self.at]).unwrap_or("");
        match digits.parse() {
            Ok(n) => Ok(Value::Number(n)),
            Err(_) => self.error("bad number"),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.at += 1; // the opening quote
        let mut out = Vec::new();
        loop {
            let Some(&b) = self.text.get(self.at) else {
                return self.error("unterminated string");
            };
            self.at += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.text.get(self.at) else {
                        return self.error("unterminated escape");
                    };
                    self.at += 1;
                    let c = match e {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'u' => self.unicode()?,
                        other => other as char, // `"`, `\`, `/`
                    };
                    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                }
                _ => out.push(b),
            }
        }
        String::from_utf8(out).or_else(|_| self.error("string is not UTF-8"))
    }

    /// The four hex digits after `\u`, and a low surrogate's after a high one.
    fn unicode(&mut self) -> Result<char, String> {
        let hex = |p: &mut Self| -> Result<u32, String> {
            let digits = p.text.get(p.at..p.at + 4).and_then(|d| std::str::from_utf8(d).ok());
            let n = digits.and_then(|d| u32::from_str_radix(d, 16).ok());
            p.at += 4;
            n.map_or_else(|| p.error("bad \\u escape"), Ok)
        };
        let high = hex(self)?;
        let code = if (0xd800..0xdc00).contains(&high) && self.eat("\\u") {
            0x10000 + ((high - 0xd800) << 10) + (hex(self)? - 0xdc00)
        } else {
            high
        };
        char::from_u32(code).map_or_else(|| self.error("bad \\u escape"), Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::{Value, parse};

    #[test]
    fn parses_what_traefik_sends() {
        let v = parse(
            br#"{"burst":"5","keys":["alice:k1","b\u00e9b:k2"],"n":-1.5e1,"on":true,"x":null}"#,
        )
        .unwrap();
        assert_eq!(v.get("burst"), Some(&Value::String("5".into())));
        assert_eq!(
            v.get("keys"),
            Some(&Value::Array(vec![
                Value::String("alice:k1".into()),
                Value::String("béb:k2".into())
            ]))
        );
        assert_eq!(v.get("n"), Some(&Value::Number(-15.0)));
        assert_eq!(v.get("on"), Some(&Value::Bool(true)));
        assert_eq!(v.get("x"), Some(&Value::Null));
        assert!(parse(b"{\"a\":1,}").is_err());
        assert!(parse(b"[1] 2").is_err());
    }
}
