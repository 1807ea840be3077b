//! `cliffload serve`: the reference services until Ctrl-C.

use anyhow::Result;
use cliffload_engine::CancellationToken;

use crate::args::ServeArgs;
use crate::embedded::Embedded;
use crate::exit;

pub async fn serve(args: ServeArgs, cancel: CancellationToken) -> Result<u8> {
    let services = Embedded::start(args.nats_url.as_deref()).await?;
    println!(
        "serving `test` (test.rpc.ping|echo|compute) on {}",
        services.url()
    );
    eprintln!("Ctrl-C to stop");
    cancel.cancelled().await;
    services.stop().await;
    Ok(exit::OK)
}
