//! Task size parsing and the memory, CPU and resource-requirement rules.

use super::super::{fargate_size_is_valid, parse_task_cpu, parse_task_memory};
use super::{accepts, client_error, ec2, fargate, first, sidecar};
use crate::ErrorCode;
use crate::model::ResourceRequirement;

#[test]
fn cpu_accepts_units_and_vcpus() {
    for (text, units) in [
        ("1024", 1024),
        ("256", 256),
        ("1 vCPU", 1024),
        ("1 vcpu", 1024),
        ("0.5 vCPU", 512),
        (".25 vCPU", 256),
        ("2vCPU", 2048),
        (" 4 VCPU ", 4096),
        ("0.125 vCPU", 128),
    ] {
        assert_eq!(parse_task_cpu(text).ok(), Some(units), "{text}");
    }
}

#[test]
fn cpu_rejects_other_text() {
    for text in ["", "vCPU", "1.5", "-1", "+1024", "1 GB", "0.0001 vCPU", "1e3", "1,024", "99999999999"] {
        let error = parse_task_cpu(text).expect_err(text);
        assert_eq!(error.code, ErrorCode::ClientException);
        assert!(error.message.contains("Invalid 'cpu' setting"), "{}", error.message);
    }
}

#[test]
fn memory_accepts_mib_and_gb() {
    for (text, mib) in
        [("512", 512), ("2 GB", 2048), ("0.5GB", 512), ("1 gb", 1024), ("30 GB", 30720), ("120GB", 122_880)]
    {
        assert_eq!(parse_task_memory(text).ok(), Some(mib), "{text}");
    }
    for text in ["", "GB", "1 TB", "2 GiB", "1.5", "0.0001 GB", "-2 GB"] {
        let error = parse_task_memory(text).expect_err(text);
        assert!(error.message.contains("Invalid 'memory' setting"), "{}", error.message);
    }
}

#[test]
fn fargate_size_table() {
    let valid = [
        (256, 512),
        (256, 2048),
        (512, 1024),
        (512, 4096),
        (1024, 2048),
        (1024, 8192),
        (2048, 4096),
        (2048, 16384),
        (4096, 8192),
        (4096, 30720),
        (8192, 16384),
        (8192, 61440),
        (16384, 32768),
        (16384, 122_880),
    ];
    for (cpu, memory) in valid {
        assert!(fargate_size_is_valid(cpu, memory), "{cpu}/{memory}");
    }
    let invalid = [
        (256, 3072),
        (256, 1536),
        (512, 512),
        (512, 5120),
        (1024, 1024),
        (2048, 17408),
        (4096, 31744),
        (8192, 18432),
        (8192, 65536),
        (16384, 36864),
        (16384, 131_072),
        (128, 512),
        (3072, 8192),
    ];
    for (cpu, memory) in invalid {
        assert!(!fargate_size_is_valid(cpu, memory), "{cpu}/{memory}");
    }
}

#[test]
fn container_memory_is_required_without_task_memory() {
    let mut request = ec2();
    first(&mut request).memory = None;
    client_error(&request, &["container 'web'", "'memory' or 'memoryReservation'"]);
    request.memory = Some("1024".into());
    accepts(&request);
}

#[test]
fn container_memory_minimum() {
    let mut request = ec2();
    first(&mut request).memory = Some(4);
    client_error(&request, &["Invalid 'memory'", "container 'web'", "6 MiB"]);
}

#[test]
fn memory_is_at_least_the_reservation() {
    let mut request = ec2();
    first(&mut request).memory_reservation = Some(1024);
    client_error(&request, &["container 'web'", "memory (512 MiB)", "memoryReservation (1024 MiB)"]);
    first(&mut request).memory_reservation = Some(512);
    accepts(&request);
}

#[test]
fn container_memory_fits_the_task() {
    let mut request = ec2();
    request.memory = Some("256".into());
    client_error(&request, &["container 'web'", "greater than the task memory"]);
    request.memory = Some("600".into());
    request.container_definitions.as_mut().expect("containers").push(sidecar("side"));
    if let Some(list) = request.container_definitions.as_mut() {
        list[1].memory = Some(128);
    }
    client_error(&request, &["640 MiB", "600 MiB"]);
}

#[test]
fn container_cpu_fits_the_task() {
    let mut request = ec2();
    request.cpu = Some("0.125 vCPU".into());
    client_error(&request, &["sum of all container 'cpu' values (256)", "(128)"]);
    first(&mut request).cpu = Some(-5);
    client_error(&request, &["container 'web'", "-5"]);
}

#[test]
fn resource_requirements() {
    let mut request = ec2();
    let gpu = |value: Option<&str>| ResourceRequirement {
        r#type: Some("GPU".into()),
        value: value.map(Into::into),
        sharing_strategy: None,
    };
    first(&mut request).resource_requirements = Some(vec![gpu(Some("2"))]);
    accepts(&request);
    first(&mut request).resource_requirements = Some(vec![gpu(Some("0"))]);
    client_error(&request, &["container 'web'", "GPU value '0'"]);
    first(&mut request).resource_requirements = Some(vec![gpu(None)]);
    client_error(&request, &["container 'web'", "GPU requirement"]);
    first(&mut request).resource_requirements = Some(vec![gpu(Some("1")), gpu(Some("1"))]);
    client_error(&request, &["container 'web'", "more than once"]);
    first(&mut request).resource_requirements = Some(vec![ResourceRequirement {
        r#type: Some("FPGA".into()),
        value: Some("1".into()),
        sharing_strategy: None,
    }]);
    client_error(&request, &["container 'web'", "FPGA"]);
}

#[test]
fn gpu_is_not_available_on_fargate() {
    let mut request = fargate();
    first(&mut request).resource_requirements = Some(vec![ResourceRequirement {
        r#type: Some("GPU".into()),
        value: Some("1".into()),
        sharing_strategy: None,
    }]);
    client_error(&request, &["FARGATE", "container 'api'", "GPU"]);
}
