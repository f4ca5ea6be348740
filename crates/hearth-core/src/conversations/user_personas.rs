//! Users' own personas: create, update (a new version, the old ones kept),
//! delete, list (built-ins first, then the user's), and resolve a persona id
//! when a conversation starts. Runs on the caller's task. A persona of another
//! user is `PersonaNotFound`, exactly like a missing one.

use super::error::ConversationError;
use super::model::OwnerId;
use super::personas::{self, AnyPersona, USER_PREFIX, UserPersona};
use super::service::{ConversationService, check_system_prompt_text};
use crate::jobs::now_ms;
use crate::store::StoreError;

/// What a user writes to create or update a persona.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PersonaInput {
    /// Name shown to people (1–100 characters).
    pub name: String,
    /// One line on what it does (up to 500 characters).
    pub description: String,
    /// The system prompt, with `{{variable}}` or `{{variable|default}}`.
    pub template: String,
}

const MAX_NAME: usize = 100;
const MAX_DESCRIPTION: usize = 500;
const MAX_VARIABLES: usize = 20;

impl ConversationService {
    /// The built-in personas, then the owner's (newest versions, by name).
    pub async fn personas(&self, owner: &OwnerId) -> Result<Vec<AnyPersona>, ConversationError> {
        let own = self.repo().personas(owner).await?;
        Ok(personas::BUILTINS
            .iter()
            .map(AnyPersona::Builtin)
            .chain(own.into_iter().map(AnyPersona::User))
            .collect())
    }

    /// A persona by id: a built-in, or one version of the owner's (the newest
    /// when `version` is `None`).
    pub async fn persona(
        &self,
        owner: &OwnerId,
        id: &str,
        version: Option<i64>,
    ) -> Result<AnyPersona, ConversationError> {
        if version.is_some_and(|v| v < 1) {
            return Err(ConversationError::PersonaNotFound(id.to_owned()));
        }
        if let Some(builtin) = personas::builtin(id) {
            return match version {
                Some(v) if v != builtin.version => Err(ConversationError::PersonaNotFound(
                    format!("{id} version {v}"),
                )),
                _ => Ok(AnyPersona::Builtin(builtin)),
            };
        }
        match self.repo().persona(owner, id, version).await {
            Ok(p) => Ok(AnyPersona::User(p)),
            Err(StoreError::NotFound) => Err(ConversationError::PersonaNotFound(id.to_owned())),
            Err(e) => Err(e.into()),
        }
    }

    /// A new persona of the owner (version 1).
    pub async fn create_persona(
        &self,
        owner: &OwnerId,
        input: PersonaInput,
    ) -> Result<UserPersona, ConversationError> {
        let input = check_persona(input)?;
        let persona = UserPersona {
            id: format!("{USER_PREFIX}{}", uuid::Uuid::now_v7()),
            version: 1,
            owner: owner.clone(),
            name: input.name,
            description: input.description,
            template: input.template,
            created_at_ms: now_ms(),
        };
        self.repo().insert_persona(&persona).await?;
        Ok(persona)
    }

    /// A new version of the owner's persona; conversations started from an
    /// earlier version keep it.
    pub async fn update_persona(
        &self,
        owner: &OwnerId,
        id: &str,
        input: PersonaInput,
    ) -> Result<UserPersona, ConversationError> {
        if personas::builtin(id).is_some() {
            return Err(ConversationError::invalid(
                "id",
                "built-in personas cannot be changed; create your own instead",
            ));
        }
        let input = check_persona(input)?;
        let current = match self.repo().persona(owner, id, None).await {
            Ok(p) => p,
            Err(StoreError::NotFound) => {
                return Err(ConversationError::PersonaNotFound(id.to_owned()));
            }
            Err(e) => return Err(e.into()),
        };
        let next = UserPersona {
            version: current.version + 1,
            name: input.name,
            description: input.description,
            template: input.template,
            created_at_ms: now_ms(),
            ..current
        };
        match self.repo().insert_persona(&next).await {
            Err(StoreError::Conflict(_)) => Err(ConversationError::Conflict(
                "this persona was changed at the same time; read it again and retry".into(),
            )),
            other => other.map(|()| next).map_err(Into::into),
        }
    }

    /// Delete every version of the owner's persona (conversations keep their
    /// system prompt).
    pub async fn delete_persona(&self, owner: &OwnerId, id: &str) -> Result<(), ConversationError> {
        if personas::builtin(id).is_some() {
            return Err(ConversationError::invalid(
                "id",
                "built-in personas cannot be deleted",
            ));
        }
        match self.repo().delete_persona(owner, id).await {
            Err(StoreError::NotFound) => Err(ConversationError::PersonaNotFound(id.to_owned())),
            other => Ok(other?),
        }
    }
}

fn check_persona(input: PersonaInput) -> Result<PersonaInput, ConversationError> {
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.contains('\0') {
        return Err(ConversationError::invalid(
            "name",
            format!("name must have 1 to {MAX_NAME} characters, without NUL"),
        ));
    }
    let description = input.description.trim().to_owned();
    if description.chars().count() > MAX_DESCRIPTION || description.contains('\0') {
        return Err(ConversationError::invalid(
            "description",
            format!("description is limited to {MAX_DESCRIPTION} characters, without NUL"),
        ));
    }
    let template = check_system_prompt_text("template", input.template)?;
    let variables = personas::variables(&template);
    if variables.len() > MAX_VARIABLES {
        return Err(ConversationError::invalid(
            "template",
            format!("a template has at most {MAX_VARIABLES} variables"),
        ));
    }
    if let Some((bad, _)) = variables.iter().find(|(n, _)| !is_variable_name(n)) {
        return Err(ConversationError::invalid(
            "template",
            format!(
                "variable name '{bad}' is not valid: use letters, digits and _ (1 to 40), \
                 as in {{{{topic}}}} or {{{{topic|default}}}}"
            ),
        ));
    }
    Ok(PersonaInput {
        name,
        description,
        template,
    })
}

fn is_variable_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}
