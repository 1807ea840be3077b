//! `cliffload serve`: the reference services until Ctrl-C.

use anyhow::Result;
use cliffload_engine::CancellationToken;

use crate::args::{ServeArgs, Service};
use cliffload_run::embedded::{Embedded, ServeConfig};
use cliffload_run::exit;
use cliffload_services::events::Durable;

pub async fn serve(args: ServeArgs, cancel: CancellationToken) -> Result<u8> {
    let config = ServeConfig {
        services: args.services.clone(),
        latency: args.latency,
        latency_factor: args.latency_factor,
        replicas: args.replicas,
        http: args.http,
        jetstream: args.jetstream,
        durable: if args.no_durable {
            Durable::Off
        } else {
            Durable::IfAvailable
        },
    };
    let target = args
        .connect
        .access(&cliffload_scenario::Settings::default())?;
    let services = Embedded::start(target.as_ref(), &config).await?;
    outln!("nats: {}", services.url());
    for s in &args.services {
        match s {
            Service::Test => outln!("  test.rpc.{{ping,echo,compute}}"),
            Service::Order => outln!(
                "  order_processing_service.rpc.{{process_order,batch_process_orders,analytics_ingestion,large_payload_processing,error_scenario_test,get_service_metrics}} (simulated I/O: {})",
                match args.latency {
                    crate::args::Latency::Realistic => "realistic",
                    crate::args::Latency::None => "none",
                }
            ),
        }
    }
    if let Some(addr) = services.http() {
        outln!("http: http://{addr}/{{service}}/rpc/{{method}}");
    }
    outln!("replicas: {}", args.replicas);
    if args.stop_on_stdin_eof {
        tokio::select! {
            () = stdin_closed() => {}
            () = cancel.cancelled() => {}
        }
    } else {
        eprintln!("Ctrl-C to stop");
        cancel.cancelled().await;
    }
    services.stop().await;
    Ok(exit::OK)
}

/// Returns when stdin reaches end of file (or fails): the parent closed it or died.
async fn stdin_closed() {
    use tokio::io::AsyncReadExt;
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    while let Ok(n) = stdin.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}
