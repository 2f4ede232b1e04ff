//! One container's own members: name, image, networking (links, hostname, extra hosts, port
//! mappings), environment, environment files, secrets, log configuration and credentials.

use super::{blank, choices, client, label, network_mode, one_of};
use crate::EcsError;
use crate::model::{ContainerDefinition, PortMapping, RegisterTaskDefinitionRequest, Secret, enums};
use crate::names::is_simple_name;

const MAX_NAME: usize = 255;
const MAX_IMAGE_REPOSITORY: usize = 255;
const MAX_ENVIRONMENT_FILES: usize = 10;
const MAX_PORT_RANGES: usize = 100;
const MAX_PORT_NAME: usize = 64;

/// Checks the members of one container that need nothing from the rest of the task.
pub(crate) fn check_container(
    request: &RegisterTaskDefinitionRequest,
    index: usize,
    container: &ContainerDefinition,
) -> Result<(), EcsError> {
    let who = label(index, container);
    match container.name.as_deref() {
        None | Some("") => {
            return Err(client(format!("{who}: name is required; every container needs a name.")));
        }
        Some(name) if !is_simple_name(name, MAX_NAME) => {
            return Err(client(format!(
                "Invalid container name '{name}': up to {MAX_NAME} letters (uppercase and lowercase), numbers, hyphens and underscores are allowed."
            )));
        }
        Some(_) => {}
    }
    check_image(&who, container.image.as_deref())?;
    check_networking(request, &who, container)?;
    check_port_mappings(request, &who, container.port_mappings.as_deref().unwrap_or_default())?;
    check_environment(&who, container)?;
    check_logging(&who, container)?;
    if let Some(credentials) = &container.repository_credentials
        && blank(credentials.credentials_parameter.as_deref())
    {
        return Err(client(format!(
            "Invalid setting for {who}: repositoryCredentials.credentialsParameter is required."
        )));
    }
    if container.credential_specs.as_deref().unwrap_or_default().len() > 1 {
        return Err(client(format!(
            "Invalid setting for {who}: at most one credentialSpecs entry is allowed."
        )));
    }
    if let Some(value) = container.version_consistency.as_deref()
        && !one_of(value, enums::VERSION_CONSISTENCY)
    {
        return Err(client(format!(
            "Invalid setting for {who}: versionConsistency '{value}' must be {}.",
            choices(enums::VERSION_CONSISTENCY)
        )));
    }
    Ok(())
}

/// Checks an image reference: `repository[:tag]` of up to 255 allowed characters, optionally
/// followed by `@sha256:` and 64 hexadecimal digits.
fn check_image(who: &str, image: Option<&str>) -> Result<(), EcsError> {
    let Some(image) = image.filter(|image| !image.trim().is_empty()) else {
        return Err(client(format!("Invalid setting for {who}: image is required.")));
    };
    let (repository, digest) = match image.split_once('@') {
        Some((repository, digest)) => (repository, Some(digest)),
        None => (image, None),
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_:./#".contains(c);
    if repository.is_empty() || !repository.chars().all(allowed) {
        return Err(client(format!(
            "Invalid setting for {who}: image '{image}' has characters that are not allowed; use letters, numbers, hyphens, underscores, colons, periods, forward slashes and number signs."
        )));
    }
    if repository.len() > MAX_IMAGE_REPOSITORY {
        return Err(client(format!(
            "Invalid setting for {who}: image repository and tag are {} characters; at most {MAX_IMAGE_REPOSITORY} are allowed.",
            repository.len()
        )));
    }
    if let Some(digest) = digest {
        let valid = digest
            .strip_prefix("sha256:")
            .is_some_and(|hash| hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()));
        if !valid {
            return Err(client(format!(
                "Invalid setting for {who}: image digest '{digest}' must be 'sha256:' followed by 64 hexadecimal characters."
            )));
        }
    }
    Ok(())
}

fn check_networking(
    request: &RegisterTaskDefinitionRequest,
    who: &str,
    container: &ContainerDefinition,
) -> Result<(), EcsError> {
    let mode = network_mode(request);
    let links = container.links.as_deref().unwrap_or_default();
    if !links.is_empty() && mode != "bridge" {
        return Err(client(format!(
            "Invalid setting for {who}: links are only supported when networkMode is bridge, not {mode}."
        )));
    }
    for link in links {
        let (name, alias) = link.split_once(':').unwrap_or((link.as_str(), link.as_str()));
        if !is_simple_name(name, MAX_NAME) || !is_simple_name(alias, MAX_NAME) {
            return Err(client(format!(
                "Invalid setting for {who}: link '{link}' must be 'name' or 'name:alias' of letters, numbers, hyphens and underscores."
            )));
        }
    }
    if mode == "awsvpc" && container.hostname.is_some() {
        return Err(client(format!(
            "Invalid setting for {who}: hostname is not supported when networkMode is awsvpc."
        )));
    }
    let hosts = container.extra_hosts.as_deref().unwrap_or_default();
    if mode == "awsvpc" && !hosts.is_empty() {
        return Err(client(format!(
            "Invalid setting for {who}: extraHosts is not supported when networkMode is awsvpc."
        )));
    }
    for (index, host) in hosts.iter().enumerate() {
        if blank(host.hostname.as_deref()) || blank(host.ip_address.as_deref()) {
            return Err(client(format!(
                "Invalid setting for {who}: extraHosts[{index}] needs both hostname and ipAddress."
            )));
        }
    }
    Ok(())
}

fn check_port_mappings(
    request: &RegisterTaskDefinitionRequest,
    who: &str,
    mappings: &[PortMapping],
) -> Result<(), EcsError> {
    let mode = network_mode(request);
    if mode == "none" && !mappings.is_empty() {
        return Err(client(format!(
            "Invalid setting for {who}: portMappings cannot be given when networkMode is none."
        )));
    }
    let mut ports = std::collections::BTreeSet::new();
    let mut ranges = 0;
    for (index, mapping) in mappings.iter().enumerate() {
        let at = format!("{who}: portMappings[{index}]");
        if let Some(protocol) = mapping.protocol.as_deref()
            && !one_of(protocol, enums::TRANSPORT_PROTOCOL)
        {
            return Err(client(format!(
                "Invalid setting for {at}.protocol '{protocol}': use 'tcp' or 'udp'."
            )));
        }
        if let Some(app) = mapping.app_protocol.as_deref()
            && !one_of(app, enums::APPLICATION_PROTOCOL)
        {
            return Err(client(format!(
                "Invalid setting for {at}.appProtocol '{app}': use {}.",
                choices(enums::APPLICATION_PROTOCOL)
            )));
        }
        if let Some(name) = mapping.name.as_deref() {
            let valid = !name.is_empty()
                && name.len() <= MAX_PORT_NAME
                && !name.starts_with('-')
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
            if !valid {
                return Err(client(format!(
                    "Invalid setting for {at}.name '{name}': up to {MAX_PORT_NAME} lowercase letters, numbers, underscores and hyphens, not starting with a hyphen."
                )));
            }
        }
        if let Some(range) = mapping.container_port_range.as_deref() {
            ranges += 1;
            check_port_range(&at, mode, range, mapping)?;
            continue;
        }
        let container_port = match mapping.container_port {
            Some(port) if (1..=65535).contains(&port) => port,
            Some(port) => {
                return Err(client(format!(
                    "Invalid 'containerPort' setting for {at}: {port} is not a port number from 1 to 65535."
                )));
            }
            None => {
                return Err(client(format!(
                    "Invalid 'containerPort' setting for {at}: containerPort (or containerPortRange) is required."
                )));
            }
        };
        if let Some(host_port) = mapping.host_port {
            if !(0..=65535).contains(&host_port) {
                return Err(client(format!(
                    "Invalid 'hostPort' setting for {at}: {host_port} is not a port number from 0 to 65535."
                )));
            }
            if (mode == "awsvpc" || mode == "host") && host_port != container_port {
                return Err(client(format!(
                    "Invalid setting for {at}: when networkMode={mode}, the hostPort ({host_port}) must match the containerPort ({container_port}) or be omitted."
                )));
            }
        }
        // One port may be mapped once per protocol: DNS on 53/udp and 53/tcp is a normal case.
        let protocol = mapping.protocol.clone().unwrap_or_else(|| "tcp".to_string());
        if !ports.insert((container_port, protocol.clone())) {
            return Err(client(format!(
                "Invalid setting for {at}: containerPort {container_port}/{protocol} is mapped more than once."
            )));
        }
    }
    if ranges > MAX_PORT_RANGES {
        return Err(client(format!(
            "Invalid setting for {who}: {ranges} containerPortRange mappings given; at most {MAX_PORT_RANGES} are allowed."
        )));
    }
    Ok(())
}

fn check_port_range(at: &str, mode: &str, range: &str, mapping: &PortMapping) -> Result<(), EcsError> {
    if mode != "bridge" && mode != "awsvpc" {
        return Err(client(format!(
            "Invalid setting for {at}: containerPortRange needs networkMode bridge or awsvpc, not {mode}."
        )));
    }
    if mapping.host_port.is_some() || mapping.container_port.is_some() {
        return Err(client(format!(
            "Invalid setting for {at}: give either containerPortRange or containerPort, and no hostPort with a range."
        )));
    }
    let bounds = range.split_once('-').and_then(|(first, last)| {
        let first: u32 = first.trim().parse().ok()?;
        let last: u32 = last.trim().parse().ok()?;
        Some((first, last))
    });
    match bounds {
        Some((first, last)) if first >= 1 && last <= 65535 && first < last => Ok(()),
        _ => Err(client(format!(
            "Invalid setting for {at}.containerPortRange '{range}': use 'first-last' with 1 <= first < last <= 65535."
        ))),
    }
}

fn check_environment(who: &str, container: &ContainerDefinition) -> Result<(), EcsError> {
    for (index, variable) in container.environment.as_deref().unwrap_or_default().iter().enumerate() {
        if blank(variable.name.as_deref()) {
            return Err(client(format!(
                "Invalid setting for {who}: environment[{index}] has no name; environment variable names cannot be empty."
            )));
        }
    }
    let files = container.environment_files.as_deref().unwrap_or_default();
    if files.len() > MAX_ENVIRONMENT_FILES {
        return Err(client(format!(
            "Invalid setting for {who}: {} environmentFiles given; at most {MAX_ENVIRONMENT_FILES} are allowed.",
            files.len()
        )));
    }
    for (index, file) in files.iter().enumerate() {
        let kind = file.r#type.as_deref().unwrap_or("");
        if !one_of(kind, enums::ENVIRONMENT_FILE_TYPE) {
            return Err(client(format!(
                "Invalid setting for {who}: environmentFiles[{index}].type '{kind}' must be 's3'."
            )));
        }
        match file.value.as_deref() {
            Some(value) if value.ends_with(".env") => {}
            Some(value) if !value.is_empty() => {
                return Err(client(format!(
                    "Invalid setting for {who}: environmentFiles[{index}] '{value}' must name an S3 object with the .env file extension."
                )));
            }
            _ => {
                return Err(client(format!(
                    "Invalid setting for {who}: environmentFiles[{index}].value (the S3 object ARN) is required."
                )));
            }
        }
    }
    check_secrets(who, "secrets", container.secrets.as_deref().unwrap_or_default())
}

fn check_secrets(who: &str, member: &str, secrets: &[Secret]) -> Result<(), EcsError> {
    for (index, secret) in secrets.iter().enumerate() {
        if blank(secret.name.as_deref()) || blank(secret.value_from.as_deref()) {
            return Err(client(format!(
                "Invalid setting for {who}: {member}[{index}] needs both name and valueFrom."
            )));
        }
    }
    Ok(())
}

fn check_logging(who: &str, container: &ContainerDefinition) -> Result<(), EcsError> {
    if let Some(firelens) = &container.firelens_configuration {
        let kind = firelens.r#type.as_deref().unwrap_or("");
        if !one_of(kind, enums::FIRELENS_CONFIGURATION_TYPE) {
            return Err(client(format!(
                "Invalid setting for {who}: firelensConfiguration.type '{kind}' must be 'fluentd' or 'fluentbit'."
            )));
        }
    }
    let Some(logging) = &container.log_configuration else {
        return Ok(());
    };
    let driver = logging.log_driver.as_deref().unwrap_or("");
    if !one_of(driver, enums::LOG_DRIVER) {
        return Err(client(format!(
            "Invalid setting for {who}: logConfiguration.logDriver '{driver}' must be {}.",
            choices(enums::LOG_DRIVER)
        )));
    }
    if driver == "awslogs" {
        let options = logging.options.as_ref();
        let missing: Vec<&str> = ["awslogs-region", "awslogs-group"]
            .into_iter()
            .filter(|key| options.and_then(|o| o.get(*key)).is_none_or(|v| v.is_empty()))
            .collect();
        if !missing.is_empty() {
            return Err(client(format!(
                "Invalid setting for {who}: log driver awslogs requires options: {}.",
                missing.join(", ")
            )));
        }
    }
    check_secrets(
        who,
        "logConfiguration.secretOptions",
        logging.secret_options.as_deref().unwrap_or_default(),
    )
}
