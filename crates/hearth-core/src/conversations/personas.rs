//! Personas: versioned system-prompt templates with variables. The built-ins
//! cover the reasoning styles people ask for; a conversation started from a
//! persona records which persona and version it used, so a later change to the
//! template never rewrites old conversations. Variables are written
//! `{{name}}` or `{{name|default}}` in the template.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::ConversationError;

/// A persona as stored on a conversation: id and version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonaRef {
    /// `builtin:<name>` for the built-ins.
    pub id: String,
    /// The template version used.
    pub version: i64,
}

/// A versioned system-prompt template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Persona {
    /// Stable id.
    pub id: &'static str,
    /// Template version; bumped on every change of the text.
    pub version: i64,
    /// Name shown to people.
    pub name: &'static str,
    /// One line on what it does.
    pub description: &'static str,
    /// The system prompt, with `{{variables}}`.
    pub template: &'static str,
}

/// A user's persona, one version of it (every version is kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPersona {
    /// `user:<uuid>`.
    pub id: String,
    /// 1 for the first version, one more for each update.
    pub version: i64,
    /// Owner; nobody else sees or uses it.
    pub owner: super::model::OwnerId,
    /// Name shown to people.
    pub name: String,
    /// One line on what it does.
    pub description: String,
    /// The system prompt, with `{{variables}}`.
    pub template: String,
    /// When this version was written, Unix milliseconds.
    pub created_at_ms: i64,
}

/// Prefix of user persona ids.
pub const USER_PREFIX: &str = "user:";

/// The built-in personas.
pub const BUILTINS: &[Persona] = &[
    Persona {
        id: "builtin:socratic",
        version: 1,
        name: "Socratic questioning",
        description: "Guides you to the answer with one probing question at a time.",
        template: "You are a Socratic tutor helping the user think through {{topic|the question at hand}}. \
                   Do not give the answer directly. Ask one short, probing question at a time that \
                   exposes an assumption or a next step, and build on the user's replies. When the \
                   user has reasoned their way to an answer, summarise what they found.",
    },
    Persona {
        id: "builtin:devils-advocate",
        version: 1,
        name: "Devil's advocate",
        description: "Argues against your position to test it.",
        template: "You are a devil's advocate. Whatever position the user takes on \
                   {{topic|the subject under discussion}}, argue the strongest honest case against \
                   it: name the weakest premise, give counter-examples and the best opposing \
                   evidence. Stay civil and concrete, and concede points that survive scrutiny.",
    },
    Persona {
        id: "builtin:step-by-step",
        version: 1,
        name: "Step-by-step reasoning",
        description: "Works through problems in numbered steps before answering.",
        template: "Solve the user's problems by reasoning step by step. Restate the problem, list \
                   what is known, then work through numbered steps, checking each one. End with a \
                   line that starts with \"Answer:\". Level of detail: {{detail|thorough}}.",
    },
    Persona {
        id: "builtin:concise-expert",
        version: 1,
        name: "Concise expert",
        description: "Short, precise answers from an expert.",
        template: "You are an expert in {{field|the subject asked about}}. Answer precisely in at \
                   most {{sentences|three}} sentences. No preamble, no repetition of the question; \
                   say so plainly when you are unsure.",
    },
];

/// A persona of either kind, as listed and used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyPersona {
    /// Shipped with Hearth.
    Builtin(&'static Persona),
    /// A user's own.
    User(UserPersona),
}

impl AnyPersona {
    /// Id and version, as recorded on a conversation.
    pub fn reference(&self) -> PersonaRef {
        match self {
            AnyPersona::Builtin(p) => PersonaRef {
                id: p.id.to_owned(),
                version: p.version,
            },
            AnyPersona::User(p) => PersonaRef {
                id: p.id.clone(),
                version: p.version,
            },
        }
    }

    /// The template.
    pub fn template(&self) -> &str {
        match self {
            AnyPersona::Builtin(p) => p.template,
            AnyPersona::User(p) => &p.template,
        }
    }
}

/// The built-in persona with this id.
pub fn builtin(id: &str) -> Option<&'static Persona> {
    BUILTINS.iter().find(|p| p.id == id)
}

/// The variables of a template: (name, default).
pub fn variables(template: &str) -> Vec<(String, Option<String>)> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        let inner = &rest[start + 2..start + 2 + len];
        let (name, default) = match inner.split_once('|') {
            Some((n, d)) => (n.trim().to_owned(), Some(d.to_owned())),
            None => (inner.trim().to_owned(), None),
        };
        if !out.iter().any(|(n, _)| *n == name) {
            out.push((name, default));
        }
        rest = &rest[start + 2 + len + 2..];
    }
    out
}

/// Fill a template: every variable takes its value or its default; an unknown
/// value or a missing one without default is refused.
pub fn render(
    template: &str,
    values: &BTreeMap<String, String>,
) -> Result<String, ConversationError> {
    let known = variables(template);
    if let Some(unknown) = values.keys().find(|k| !known.iter().any(|(n, _)| n == *k)) {
        let names: Vec<&str> = known.iter().map(|(n, _)| n.as_str()).collect();
        return Err(ConversationError::invalid(
            "persona_variables",
            format!(
                "unknown variable '{unknown}'; this persona takes: {}",
                names.join(", ")
            ),
        ));
    }
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        let inner = &rest[start + 2..start + 2 + len];
        let (name, default) = match inner.split_once('|') {
            Some((n, d)) => (n.trim(), Some(d)),
            None => (inner.trim(), None),
        };
        match (values.get(name), default) {
            (Some(value), _) => out.push_str(value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => {
                return Err(ConversationError::invalid(
                    "persona_variables",
                    format!("variable '{name}' needs a value"),
                ));
            }
        }
        rest = &rest[start + 2 + len + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_render_with_defaults_and_values() {
        for p in BUILTINS {
            let text = render(p.template, &BTreeMap::new()).unwrap();
            assert!(!text.contains("{{"), "{}", p.id);
        }
        let p = builtin("builtin:concise-expert").unwrap();
        let values = BTreeMap::from([("field".to_owned(), "rust".to_owned())]);
        let text = render(p.template, &values).unwrap();
        assert!(text.starts_with("You are an expert in rust. Answer precisely in at most three"));
        assert_eq!(
            variables(p.template),
            vec![
                (
                    "field".to_owned(),
                    Some("the subject asked about".to_owned())
                ),
                ("sentences".to_owned(), Some("three".to_owned()))
            ]
        );
    }

    #[test]
    fn unknown_and_missing_variables_are_refused() {
        let bad = BTreeMap::from([("nope".to_owned(), "x".to_owned())]);
        assert!(render("Hi {{name|you}}", &bad).is_err());
        assert!(render("Hi {{name}}", &BTreeMap::new()).is_err());
        let ok = BTreeMap::from([("name".to_owned(), "Ada".to_owned())]);
        assert_eq!(render("Hi {{name}}!", &ok).unwrap(), "Hi Ada!");
    }
}
