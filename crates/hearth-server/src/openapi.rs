//! The OpenAPI 3.1 document, generated from the route table and the view types'
//! schemas, with the error-code registry published as the `ErrorCode` schema and
//! the `x-error-codes` extension. Checked against `docs/openapi.json` by a golden
//! test.

use std::sync::OnceLock;

use hearth_types::{Code, ErrorBody, ErrorEnvelope};
use serde_json::{Value, json};
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, Required,
};

use crate::error::Lane;
use crate::lanes;
use crate::routes::{Auth, RouteSpec, specs};

/// The document, built once.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(build)
}

fn build() -> Value {
    let mut paths = Paths::new();
    // Wildcard routes (the web app's files) have no OpenAPI form.
    for spec in specs().into_iter().filter(|s| !s.path.contains("{*")) {
        paths.add_path_operation(spec.path, vec![method(&spec)], operation(&spec));
    }
    let components = ComponentsBuilder::new()
        .schema_from::<ErrorEnvelope>()
        .schema_from::<ErrorBody>();
    let components = [
        lanes::meta::schemas,
        lanes::admin::schemas,
        lanes::openai::schemas,
        lanes::ollama::schemas,
        lanes::anthropic::schemas,
        lanes::ui::schemas,
        lanes::conversations::schemas,
    ]
    .into_iter()
    .fold(components, |builder, add| add(builder))
    .security_scheme(
        "bearer",
        SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
    )
    .build();
    let doc: OpenApi = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Hearth")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "A private AI server: OpenAI-, Ollama- and Anthropic-compatible APIs, a web \
                     app and a gateway. Errors on Hearth's own routes use `ErrorEnvelope`; \
                     each code is listed in `x-error-codes`.",
                )),
        )
        .paths(paths)
        .components(Some(components))
        .build();
    let mut value = serde_json::to_value(&doc).expect("document serializes");
    publish_error_codes(&mut value);
    value
}

fn method(spec: &RouteSpec) -> HttpMethod {
    match spec.method.as_str() {
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "PATCH" => HttpMethod::Patch,
        "DELETE" => HttpMethod::Delete,
        "HEAD" => HttpMethod::Head,
        _ => HttpMethod::Get,
    }
}

fn json_content(schema: &str) -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(schema)))
        .build()
}

fn operation(spec: &RouteSpec) -> utoipa::openapi::path::Operation {
    let mut success = ResponseBuilder::new().description("Success.");
    if let Some(schema) = spec.response_schema {
        success = success.content("application/json", json_content(schema));
    }
    let error = match spec.lane {
        Lane::Hearth => ResponseBuilder::new()
            .description("Error envelope with a stable code.")
            .content("application/json", json_content("ErrorEnvelope")),
        Lane::OpenAi => ResponseBuilder::new().description("OpenAI error shape."),
        Lane::Ollama => ResponseBuilder::new().description("Ollama error shape."),
        Lane::Anthropic => ResponseBuilder::new().description("Anthropic error shape."),
    };
    let responses = ResponsesBuilder::new()
        .response("200", success)
        .response("default", error);
    let security = match spec.auth {
        Auth::Open => SecurityRequirement::default(),
        Auth::Authenticated => SecurityRequirement::new("bearer", Vec::<String>::new()),
        Auth::Scope(scope) => SecurityRequirement::new("bearer", [scope]),
    };
    let mut op = OperationBuilder::new()
        .operation_id(Some(spec.operation_id))
        .summary(Some(spec.summary))
        .tag(spec.lane.as_str())
        .responses(responses)
        .security(security);
    for name in path_params(spec.path) {
        op = op.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::String),
                )),
        );
    }
    if let Some(schema) = spec.request_schema {
        op = op.request_body(Some(
            RequestBodyBuilder::new()
                .content("application/json", json_content(schema))
                .required(Some(Required::True))
                .build(),
        ));
    }
    op.build()
}

fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

fn publish_error_codes(doc: &mut Value) {
    let registry: Vec<Value> = Code::ALL
        .iter()
        .map(
            |c| json!({ "code": c.as_str(), "status": c.status(), "description": c.description() }),
        )
        .collect();
    let names: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    doc["x-error-codes"] = Value::Array(registry);
    doc["components"]["schemas"]["ErrorCode"] = json!({
        "type": "string",
        "enum": names,
        "description": "Stable error codes; see `x-error-codes` for status and meaning.",
    });
    doc["components"]["schemas"]["ErrorBody"]["properties"]["code"] =
        json!({ "$ref": "#/components/schemas/ErrorCode" });
}
