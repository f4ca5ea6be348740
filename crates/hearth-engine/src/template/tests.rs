//! Table test: every case in `tests/fixtures/templates/cases.json` (rendered by
//! real Jinja2 through `render_expected.py`) must render identically here.

use super::*;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/templates")
}

#[derive(serde::Deserialize)]
struct Case {
    template: String,
    conversation: String,
    messages: Vec<ChatMessage>,
    tools: Vec<serde_json::Value>,
    add_generation_prompt: bool,
    expected: Option<String>,
    error: Option<String>,
}

#[test]
fn renders_like_jinja2() {
    let cases: Vec<Case> =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("cases.json")).unwrap())
            .unwrap();
    assert!(cases.len() >= 15);
    for case in cases {
        let source =
            std::fs::read_to_string(fixtures().join(format!("{}.jinja", case.template))).unwrap();
        let template = ChatTemplate::new(&source, "<s>", "</s>").unwrap();
        let input = RenderInput {
            messages: &case.messages,
            tools: &case.tools,
            add_generation_prompt: case.add_generation_prompt,
        };
        let label = format!("{} / {}", case.template, case.conversation);
        match (template.render(input), case.expected, case.error) {
            (Ok(got), Some(expected), _) => assert_eq!(got, expected, "{label}"),
            (Err(EngineError::Template(got)), None, Some(expected)) => {
                assert!(got.contains(&expected), "{label}: {got}")
            }
            (got, expected, error) => {
                panic!("{label}: got {got:?}, expected {expected:?} / error {error:?}")
            }
        }
    }
}

#[test]
fn strftime_now_and_syntax_errors() {
    let template = ChatTemplate::new("{{ strftime_now('%Y') }}", "", "").unwrap();
    let year = template
        .render(RenderInput {
            messages: &[],
            tools: &[],
            add_generation_prompt: false,
        })
        .unwrap();
    assert!(year.len() == 4 && year.starts_with("20"), "{year}");
    assert!(matches!(
        ChatTemplate::new("{% for %}", "", ""),
        Err(EngineError::Template(_))
    ));
}
