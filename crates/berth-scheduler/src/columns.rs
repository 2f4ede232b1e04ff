//! Each instance's value of the attributes `spread` spread over lately, as small dense numbers,
//! kept with a [`crate::PreparedCluster`] so that a request spreading over an attribute copies
//! a column instead of looking the attribute up on every instance.
//!
//! A column numbers the attribute's values in the order it first met them, `0` standing for
//! no value (or no attribute), which is how `spread` buckets instances. It is made from the
//! snapshot the first time a request spreads over its attribute and kept up to date as the
//! cluster is told of changes; only the few most recently used attributes keep a column, and a
//! column that has met many more values than there are instances (an attribute whose values keep
//! changing) is dropped and made again when next needed, so none grows without bound.

use std::collections::HashMap;

use crate::types::InstanceView;

/// How many attributes keep a column.
const KEPT: usize = 8;

#[derive(Debug, Default)]
pub(crate) struct SpreadColumns {
    columns: Vec<Column>,
    /// Counts uses, to tell which column was used least recently.
    clock: u64,
}

#[derive(Debug)]
struct Column {
    name: String,
    /// By instance: its value's number.
    of: Vec<u32>,
    /// The numbers of the values met (none is `0`, values count from `1`).
    numbers: HashMap<String, u32>,
    used: u64,
}

impl SpreadColumns {
    /// Each of `instances`' value of attribute `name` (`0`: none), and how many numbers there
    /// are. `instances` must be what the columns were told of.
    pub(crate) fn column(&mut self, name: &str, instances: &[InstanceView]) -> (Vec<u32>, usize) {
        self.clock += 1;
        let position = match self.columns.iter().position(|column| column.name == name) {
            Some(position) => position,
            None => {
                let column = Column::of(name, instances);
                if self.columns.len() < KEPT {
                    self.columns.push(column);
                    self.columns.len() - 1
                } else {
                    let least_used =
                        (0..self.columns.len()).min_by_key(|&p| self.columns[p].used).unwrap_or(0);
                    self.columns[least_used] = column;
                    least_used
                }
            }
        };
        let column = &mut self.columns[position];
        column.used = self.clock;
        (column.of.clone(), column.numbers.len() + 1)
    }

    /// Instance `index` is now `instance`.
    pub(crate) fn replace(&mut self, index: usize, instance: &InstanceView, instances: usize) {
        for column in &mut self.columns {
            let value = column.number(instance);
            if let Some(slot) = column.of.get_mut(index) {
                *slot = value;
            }
        }
        self.forget_overgrown(instances);
    }

    /// `instance` is now at `index`, the instances from there on moving up one.
    pub(crate) fn insert(&mut self, index: usize, instance: &InstanceView, instances: usize) {
        for column in &mut self.columns {
            let value = column.number(instance);
            column.of.insert(index.min(column.of.len()), value);
        }
        self.forget_overgrown(instances);
    }

    /// Instance `index` is gone, the instances after it moving down one.
    pub(crate) fn remove(&mut self, index: usize) {
        for column in &mut self.columns {
            if index < column.of.len() {
                column.of.remove(index);
            }
        }
    }

    /// Drops the columns that met many more values than a cluster of `instances` can hold.
    fn forget_overgrown(&mut self, instances: usize) {
        self.columns.retain(|column| column.numbers.len() <= 2 * instances + 64);
    }
}

impl Column {
    fn of(name: &str, instances: &[InstanceView]) -> Column {
        let mut column = Column { name: name.to_string(), of: Vec::new(), numbers: HashMap::new(), used: 0 };
        column.of = instances.iter().map(|instance| column.number(instance)).collect();
        column
    }

    /// The number of `instance`'s value, made if the value is new.
    fn number(&mut self, instance: &InstanceView) -> u32 {
        let Some(value) = instance.attribute(&self.name) else { return 0 };
        if let Some(&number) = self.numbers.get(value) {
            return number;
        }
        let number = self.numbers.len() as u32 + 1;
        self.numbers.insert(value.to_string(), number);
        number
    }
}
