//! One container's own members.

use super::{accepts, client_error, ec2, first, sidecar};
use crate::model::{
    EnvironmentFile, HostEntry, KeyValuePair, LogConfiguration, PortMapping, RepositoryCredentials, Secret,
};

fn port(container: i32, host: Option<i32>) -> PortMapping {
    PortMapping { container_port: Some(container), host_port: host, ..Default::default() }
}

#[test]
fn container_name_is_required() {
    let mut request = ec2();
    first(&mut request).name = None;
    client_error(&request, &["containerDefinitions[0]", "name is required"]);
}

#[test]
fn container_name_pattern() {
    let mut request = ec2();
    first(&mut request).name = Some("web.server".into());
    client_error(&request, &["container name", "web.server"]);
}

#[test]
fn image_is_required() {
    let mut request = ec2();
    first(&mut request).image = Some(" ".into());
    client_error(&request, &["container 'web'", "image is required"]);
}

#[test]
fn image_characters_length_and_digest() {
    let mut request = ec2();
    first(&mut request).image = Some("nginx latest".into());
    client_error(&request, &["container 'web'", "nginx latest"]);
    first(&mut request).image = Some(format!("{}:1", "a".repeat(254)));
    client_error(&request, &["container 'web'", "256 characters"]);
    first(&mut request).image = Some("nginx@sha256:abc".into());
    client_error(&request, &["container 'web'", "digest", "sha256:abc"]);
    first(&mut request).image = Some(format!("nginx@sha256:{}", "A".repeat(64)));
    accepts(&request);
}

#[test]
fn links_only_in_bridge_mode() {
    let mut request = ec2();
    request.container_definitions.as_mut().expect("containers").push(sidecar("cache"));
    first(&mut request).links = Some(vec!["cache".into()]);
    accepts(&request);
    request.network_mode = Some("host".into());
    first(&mut request).port_mappings = None;
    client_error(&request, &["container 'web'", "links", "bridge"]);
}

#[test]
fn link_format() {
    let mut request = ec2();
    first(&mut request).links = Some(vec!["cache:bad alias".into()]);
    client_error(&request, &["container 'web'", "cache:bad alias"]);
}

#[test]
fn hostname_and_extra_hosts_not_with_awsvpc() {
    let mut request = ec2();
    request.network_mode = Some("awsvpc".into());
    first(&mut request).port_mappings = Some(vec![port(80, None)]);
    accepts(&request);
    first(&mut request).hostname = Some("web1".into());
    client_error(&request, &["container 'web'", "hostname", "awsvpc"]);
    first(&mut request).hostname = None;
    first(&mut request).extra_hosts =
        Some(vec![HostEntry { hostname: Some("db".into()), ip_address: Some("10.0.0.5".into()) }]);
    client_error(&request, &["container 'web'", "extraHosts", "awsvpc"]);
}

#[test]
fn awsvpc_and_host_ports_must_match() {
    let mut request = ec2();
    for mode in ["awsvpc", "host"] {
        request.network_mode = Some(mode.into());
        first(&mut request).port_mappings = Some(vec![port(80, Some(8080))]);
        client_error(&request, &["container 'web'", "portMappings[0]", "8080", "80", mode]);
        first(&mut request).port_mappings = Some(vec![port(80, Some(80))]);
        accepts(&request);
    }
}

#[test]
fn no_port_mappings_with_network_mode_none() {
    let mut request = ec2();
    request.network_mode = Some("none".into());
    client_error(&request, &["container 'web'", "portMappings", "none"]);
}

#[test]
fn port_ranges_and_protocol() {
    let mut request = ec2();
    first(&mut request).port_mappings = Some(vec![port(70000, None)]);
    client_error(&request, &["Invalid 'containerPort'", "container 'web'", "70000"]);
    first(&mut request).port_mappings = Some(vec![port(80, Some(-1))]);
    client_error(&request, &["Invalid 'hostPort'", "container 'web'", "-1"]);
    first(&mut request).port_mappings = Some(vec![PortMapping { host_port: Some(80), ..Default::default() }]);
    client_error(&request, &["Invalid 'containerPort'", "required"]);
    let mut sctp = port(80, None);
    sctp.protocol = Some("sctp".into());
    first(&mut request).port_mappings = Some(vec![sctp]);
    client_error(&request, &["container 'web'", "protocol", "sctp"]);
}

#[test]
fn a_container_port_is_exposed_once_per_protocol() {
    let mut request = ec2();
    let mut udp = port(53, None);
    udp.protocol = Some("udp".into());
    first(&mut request).port_mappings = Some(vec![port(53, None), udp.clone()]);
    accepts(&request);
    first(&mut request).port_mappings = Some(vec![port(53, None), udp.clone(), udp]);
    client_error(&request, &["container 'web'", "portMappings[2]", "53/udp"]);
}

#[test]
fn container_port_range_rules() {
    let mut request = ec2();
    let range = |text: &str| PortMapping { container_port_range: Some(text.into()), ..Default::default() };
    first(&mut request).port_mappings = Some(vec![range("9000-9100")]);
    accepts(&request);
    first(&mut request).port_mappings = Some(vec![range("9100-9000")]);
    client_error(&request, &["container 'web'", "containerPortRange", "9100-9000"]);
    request.network_mode = Some("host".into());
    first(&mut request).port_mappings = Some(vec![range("9000-9100")]);
    client_error(&request, &["container 'web'", "containerPortRange", "host"]);
}

#[test]
fn port_mapping_names() {
    let mut request = ec2();
    let mut named = port(80, None);
    named.name = Some("-Http".into());
    first(&mut request).port_mappings = Some(vec![named]);
    client_error(&request, &["container 'web'", "name", "-Http"]);
}

#[test]
fn environment_names_are_not_empty() {
    let mut request = ec2();
    first(&mut request).environment =
        Some(vec![KeyValuePair { name: Some(String::new()), value: Some("v".into()) }]);
    client_error(&request, &["container 'web'", "environment[0]"]);
}

#[test]
fn secrets_need_name_and_value_from() {
    let mut request = ec2();
    first(&mut request).secrets = Some(vec![Secret { name: Some("DB".into()), value_from: None }]);
    client_error(&request, &["container 'web'", "secrets[0]", "valueFrom"]);
}

#[test]
fn environment_files_are_s3_env_files() {
    let mut request = ec2();
    let file =
        |kind: &str, value: &str| EnvironmentFile { r#type: Some(kind.into()), value: Some(value.into()) };
    first(&mut request).environment_files = Some(vec![file("s3", "arn:aws:s3:::bucket/app.env")]);
    accepts(&request);
    first(&mut request).environment_files = Some(vec![file("http", "arn:aws:s3:::bucket/app.env")]);
    client_error(&request, &["container 'web'", "environmentFiles[0]", "http"]);
    first(&mut request).environment_files = Some(vec![file("s3", "arn:aws:s3:::bucket/app.txt")]);
    client_error(&request, &["container 'web'", "environmentFiles[0]", ".env"]);
    first(&mut request).environment_files = Some(vec![file("s3", "arn:aws:s3:::b/a.env"); 11]);
    client_error(&request, &["container 'web'", "11 environmentFiles"]);
}

#[test]
fn log_driver_is_an_enumeration_and_awslogs_needs_options() {
    let mut request = ec2();
    first(&mut request).log_configuration =
        Some(LogConfiguration { log_driver: Some("loki".into()), ..Default::default() });
    client_error(&request, &["container 'web'", "logDriver", "loki"]);
    first(&mut request).log_configuration = Some(LogConfiguration {
        log_driver: Some("awslogs".into()),
        options: Some([("awslogs-group".to_owned(), "/ecs/web".to_owned())].into()),
        ..Default::default()
    });
    client_error(&request, &["container 'web'", "awslogs", "awslogs-region"]);
}

#[test]
fn repository_credentials_need_a_parameter() {
    let mut request = ec2();
    first(&mut request).repository_credentials = Some(RepositoryCredentials { credentials_parameter: None });
    client_error(&request, &["container 'web'", "credentialsParameter"]);
}
