//! The echo responder both contenders call.

use anyhow::Result;
use futures_util::StreamExt;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// NATS server.
    #[arg(long)]
    url: String,
    /// Subject to serve.
    #[arg(long, default_value = "bench.echo")]
    subject: String,
}

pub fn run(args: Args) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let client = async_nats::connect(&args.url).await?;
        let mut sub = client.subscribe(args.subject).await?;
        client.flush().await?;
        println!("ready");
        while let Some(msg) = sub.next().await {
            if let Some(reply) = msg.reply {
                client.publish(reply, msg.payload).await?;
            }
        }
        Ok(())
    })
}
