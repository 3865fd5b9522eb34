//! Printing admin API answers: human tables by default, the raw JSON with `--json`.

use serde_json::Value;

/// Columns of a table: (heading, JSON field).
pub type Columns = &'static [(&'static str, &'static str)];

fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => s.clone(),
        // A list of objects (a SAML application's ACS endpoints, its attributes) is `; `-separated.
        Some(Value::Array(a)) => a.iter().map(|v| cell(Some(v))).collect::<Vec<_>>().join(
            if a.iter().any(Value::is_object) {
                "; "
            } else {
                ","
            },
        ),
        // An object inside a value: its non-null fields as `key=value`.
        Some(Value::Object(o)) => o
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| format!("{k}={}", cell(Some(v))))
            .collect::<Vec<_>>()
            .join(" "),
        Some(other) => other.to_string(),
    }
}

/// Renders rows as an aligned table.
pub fn table(rows: &[Value], columns: Columns) -> String {
    let grid: Vec<Vec<String>> = rows
        .iter()
        .map(|r| columns.iter().map(|(_, f)| cell(r.get(*f))).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (h, _))| {
            grid.iter()
                .map(|r| r[i].chars().count())
                .chain([h.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = vec![line(columns.iter().map(|(h, _)| h.to_string()).collect())];
    out.extend(grid.into_iter().map(line));
    out.join("\n") + "\n"
}

/// Renders one object as `key value` lines; a nested object's fields become `outer.inner` lines.
pub fn record(v: &Value) -> String {
    match v.as_object() {
        Some(map) => {
            let mut lines: Vec<(String, String)> = Vec::new();
            for (k, v) in map {
                match v.as_object() {
                    Some(inner) => lines.extend(
                        inner
                            .iter()
                            .map(|(ik, iv)| (format!("{k}.{ik}"), cell(Some(iv)))),
                    ),
                    None => lines.push((k.clone(), cell(Some(v)))),
                }
            }
            let w = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            lines
                .iter()
                .map(|(k, v)| format!("{k:<w$}  {v}\n"))
                .collect()
        }
        None => format!("{v}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_show_missing_values() {
        let rows = vec![
            serde_json::json!({"a": "x", "b": 1}),
            serde_json::json!({"a": "longer", "b": null}),
        ];
        let t = table(&rows, &[("A", "a"), ("B", "b")]);
        assert_eq!(t, "A       B\nx       1\nlonger  -\n");
    }

    #[test]
    fn records_flatten_nested_objects() {
        let v =
            serde_json::json!({"id": "x", "oidc": {"audience": null, "grantTypes": ["a", "b"]}});
        assert_eq!(
            record(&v),
            "id               x\noidc.audience    -\noidc.grantTypes  a,b\n"
        );
        let v = serde_json::json!({"saml": {"acs": [
            {"url": "https://sp/a", "index": 0, "isDefault": true},
            {"url": "https://sp/b", "index": 1, "isDefault": false}],
            "attributes": [{"name": "mail", "nameFormat": null, "value": "${user:email}"}]}});
        assert_eq!(
            record(&v),
            "saml.acs         index=0 isDefault=true url=https://sp/a; \
             index=1 isDefault=false url=https://sp/b\n\
             saml.attributes  name=mail value=${user:email}\n"
        );
    }
}
