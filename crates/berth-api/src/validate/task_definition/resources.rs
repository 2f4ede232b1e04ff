//! CPU, memory and other resources: parsing the task size, the Fargate size table, the
//! container memory and CPU rules, and `resourceRequirements`.

use super::{client, containers, label, one_of};
use crate::EcsError;
use crate::model::{RegisterTaskDefinitionRequest, enums};

/// The smallest memory a container may be given, in MiB: Docker 20.10 reserves 6 MiB.
pub const MIN_CONTAINER_MEMORY: i32 = 6;

/// Parses a task-level `cpu`: CPU units (`"1024"`) or vCPUs (`"1 vCPU"`, `"0.5 vcpu"`,
/// `".25vCPU"`), returning CPU units (1 vCPU = 1024 units).
///
/// Fails with `ClientException` when the text is neither form or the vCPU value is not a whole
/// number of units. The range rules are [`super::check_register`]'s business.
pub fn parse_task_cpu(text: &str) -> Result<u32, EcsError> {
    let trimmed = text.trim();
    let value = match strip_suffix_ignore_case(trimmed, "vcpu") {
        Some(number) => scaled(number.trim_end()),
        None => integer(trimmed),
    };
    value.ok_or_else(|| {
        client(format!(
            "Invalid 'cpu' setting for task: '{text}' must be whole CPU units (such as 1024) or vCPUs that come to whole units (such as 1 vCPU or 0.5 vCPU; 1 vCPU = 1024 units)."
        ))
    })
}

/// Parses a task-level `memory`: MiB (`"2048"`) or GB (`"2 GB"`, `"0.5GB"`, `"1 gb"`),
/// returning MiB (1 GB = 1024 MiB).
///
/// Fails with `ClientException` when the text is neither form or the GB value is not a whole
/// number of MiB.
pub fn parse_task_memory(text: &str) -> Result<u32, EcsError> {
    let trimmed = text.trim();
    let value = match strip_suffix_ignore_case(trimmed, "gb") {
        Some(number) => scaled(number.trim_end()),
        None => integer(trimmed),
    };
    value.ok_or_else(|| {
        client(format!(
            "Invalid 'memory' setting for task: '{text}' must be whole MiB (such as 2048) or GB that come to whole MiB (such as 2 GB or 0.5GB; 1 GB = 1024 MiB)."
        ))
    })
}

fn strip_suffix_ignore_case<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let split = text.len().checked_sub(suffix.len())?;
    let (head, tail) = (text.get(..split)?, text.get(split..)?);
    tail.eq_ignore_ascii_case(suffix).then_some(head)
}

fn integer(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `number × 1024` for a decimal such as `0.25`, `2` or `.5`, when that is a whole number.
fn scaled(number: &str) -> Option<u32> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits_ok = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.len() + fraction.len() == 0 || !digits_ok(whole) || !digits_ok(fraction) {
        return None;
    }
    if whole.len() > 12 || fraction.len() > 12 {
        return None;
    }
    let scale = 10u128.pow(u32::try_from(fraction.len()).ok()?);
    let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let fraction: u128 = if fraction.is_empty() { 0 } else { fraction.parse().ok()? };
    let total = (whole * scale + fraction) * 1024;
    if !total.is_multiple_of(scale) {
        return None;
    }
    u32::try_from(total / scale).ok()
}

/// Whether `cpu` units and `memory` MiB is a task size Fargate offers (the table of the
/// developer guide's "Task CPU and memory"; the 8 and 16 vCPU sizes need Linux platform 1.4.0).
pub fn fargate_size_is_valid(cpu: u32, memory: u32) -> bool {
    let stepped =
        |low: u32, high: u32, step: u32| (low..=high).contains(&memory) && memory.is_multiple_of(step);
    match cpu {
        256 => matches!(memory, 512 | 1024 | 2048),
        512 => stepped(1024, 4096, 1024),
        1024 => stepped(2048, 8192, 1024),
        2048 => stepped(4096, 16384, 1024),
        4096 => stepped(8192, 30720, 1024),
        8192 => stepped(16384, 61440, 4096),
        16384 => stepped(32768, 122880, 8192),
        _ => false,
    }
}

/// Checks container memory and CPU against each other and against the task size, and each
/// container's `resourceRequirements`.
pub(crate) fn check_resources(request: &RegisterTaskDefinitionRequest) -> Result<(), EcsError> {
    let task_memory = request.memory.as_deref().and_then(|m| parse_task_memory(m).ok());
    let task_cpu = request.cpu.as_deref().and_then(|c| parse_task_cpu(c).ok());
    let mut reserved: i64 = 0;
    let mut cpu_total: i64 = 0;
    for (index, container) in containers(request).iter().enumerate() {
        let who = label(index, container);
        let (memory, reservation) = (container.memory, container.memory_reservation);
        if memory.is_none() && reservation.is_none() && task_memory.is_none() {
            return Err(client(format!(
                "Invalid setting for {who}. At least one of 'memory' or 'memoryReservation' must be specified (or set the task-level memory)."
            )));
        }
        for (member, value) in [("memory", memory), ("memoryReservation", reservation)] {
            if let Some(value) = value
                && value < MIN_CONTAINER_MEMORY
            {
                return Err(client(format!(
                    "Invalid '{member}' setting for {who}: {value} MiB is below the minimum of {MIN_CONTAINER_MEMORY} MiB."
                )));
            }
        }
        if let (Some(memory), Some(reservation)) = (memory, reservation)
            && memory < reservation
        {
            return Err(client(format!(
                "Invalid setting for {who}: memory ({memory} MiB) must be greater than or equal to memoryReservation ({reservation} MiB)."
            )));
        }
        if let (Some(memory), Some(task)) = (memory, task_memory)
            && i64::from(memory) > i64::from(task)
        {
            return Err(client(format!(
                "Invalid setting for {who}: memory ({memory} MiB) is greater than the task memory ({task} MiB)."
            )));
        }
        reserved += i64::from(reservation.or(memory).unwrap_or(0));
        match container.cpu {
            Some(cpu) if cpu < 0 => {
                return Err(client(format!("Invalid 'cpu' setting for {who}: {cpu} cannot be negative.")));
            }
            Some(cpu) => cpu_total += i64::from(cpu),
            None => {}
        }
        check_requirements(request, &who, container)?;
    }
    if let Some(task) = task_memory
        && reserved > i64::from(task)
    {
        return Err(client(format!(
            "The containers reserve {reserved} MiB of memory in total (memoryReservation, or memory where no reservation is set), more than the task memory of {task} MiB."
        )));
    }
    if let Some(task) = task_cpu
        && cpu_total > i64::from(task)
    {
        return Err(client(format!(
            "The sum of all container 'cpu' values ({cpu_total}) cannot be greater than the value of the task 'cpu' ({task})."
        )));
    }
    Ok(())
}

fn check_requirements(
    request: &RegisterTaskDefinitionRequest,
    who: &str,
    container: &crate::model::ContainerDefinition,
) -> Result<(), EcsError> {
    let requirements = container.resource_requirements.as_deref().unwrap_or_default();
    let mut kinds = std::collections::BTreeSet::new();
    for (index, requirement) in requirements.iter().enumerate() {
        let kind = requirement.r#type.as_deref().unwrap_or("");
        let at = format!("{who}: resourceRequirements[{index}]");
        if !one_of(kind, enums::RESOURCE_TYPE) {
            return Err(client(format!(
                "Invalid setting for {at}.type '{kind}': use 'GPU', 'InferenceAccelerator' or 'NeuronDevice'."
            )));
        }
        if !kinds.insert(kind) {
            return Err(client(format!(
                "Invalid setting for {at}: resource type {kind} is given more than once."
            )));
        }
        // The SDKs send `value: ""` for a requirement built without one: that is no value.
        let value = requirement.value.as_deref().filter(|v| !v.is_empty());
        let sharing = requirement.sharing_strategy.is_some();
        if sharing && kind != "GPU" {
            return Err(client(format!(
                "Invalid setting for {at}: sharingStrategy applies only to the GPU type."
            )));
        }
        match kind {
            "GPU" => match (value, sharing) {
                (Some(_), true) => {
                    return Err(client(format!(
                        "Invalid setting for {at}: give either a GPU value or a sharingStrategy, not both."
                    )));
                }
                (None, false) => {
                    return Err(client(format!(
                        "Invalid setting for {at}: a GPU requirement needs a value (a GPU count or ALL) or a sharingStrategy."
                    )));
                }
                (Some(text), false) if text != "ALL" && integer(text).is_none_or(|n| n == 0) => {
                    return Err(client(format!(
                        "Invalid setting for {at}: GPU value '{text}' must be a positive whole number of GPUs or ALL."
                    )));
                }
                _ => {}
            },
            "NeuronDevice" => {
                if value != Some("ALL") {
                    return Err(client(format!(
                        "Invalid setting for {at}: a NeuronDevice value must be ALL."
                    )));
                }
                let holders = containers(request)
                    .iter()
                    .filter(|c| {
                        c.resource_requirements
                            .as_deref()
                            .unwrap_or_default()
                            .iter()
                            .any(|r| r.r#type.as_deref() == Some("NeuronDevice"))
                    })
                    .count();
                if holders > 1 {
                    return Err(client(format!(
                        "Invalid setting for {at}: only one container in a task can request NeuronDevice resources; {holders} do."
                    )));
                }
            }
            _ => {}
        }
    }
    Ok(())
}
