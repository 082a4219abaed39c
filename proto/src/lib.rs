//! Homeward's gRPC contracts. The code is generated at build time from the `.proto` files in
//! this crate's `homeward/` folder; nothing here is written by hand but the module tree.

#![forbid(unsafe_code)]

pub mod common {
    pub mod v1 {
        tonic::include_proto!("homeward.common.v1");
    }
}

pub mod registry {
    pub mod v1 {
        tonic::include_proto!("homeward.registry.v1");
    }
}

pub mod exchange {
    pub mod v1 {
        tonic::include_proto!("homeward.exchange.v1");
    }
}

pub mod notification {
    pub mod v1 {
        tonic::include_proto!("homeward.notification.v1");
    }
}

/// The encoded descriptors of every Homeward contract, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("homeward_descriptor");
