//! Clock skew between gateways never lets a minute admit more than its quota.
