//! The milter conversation on the wire: read each command the MTA sends,
//! hand it to the [`Milter`] handlers, and write the reply, unless the MTA
//! and the milter agreed on none.
//!
//! Written here rather than with `miltr_server::Server`, which answers
//! every command even when no reply was negotiated (the `SMFIP_NR_*`
//! protocol flags of milter protocol 6), so a milter served by it cannot
//! offer them. With them, Postfix and Sendmail send the connection, HELO,
//! envelope sender, every header field and every body chunk without
//! waiting for a reply: one round trip per message (end of body) instead of
//! one per command. The frames are read and written with `miltr-common`'s
//! parsers and writers; the end-of-body replies (header changes and the
//! verdict) go out in one write.

use bytes::{BufMut, BytesMut};
use miltr_common::actions::Action;
use miltr_common::decoding::ClientCommand;
use miltr_common::encoding::{ServerMessage, Writable};
use miltr_common::optneg::{Capability, Protocol};
use miltr_server::Milter;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest frame read (Postfix's body chunks are at most 65,535 bytes and
/// a command byte).
const MAX_FRAME: usize = 1 << 16;

/// Why a conversation ended early.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WireError<E: std::fmt::Debug> {
    /// The connection failed, or went quiet past its timeout.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// The MTA sent a frame that is not a milter command.
    #[error("protocol: {0}")]
    Protocol(#[from] miltr_common::ProtocolError),
    /// A frame longer than [`MAX_FRAME`].
    #[error("a frame of {0} bytes, over the limit")]
    TooLong(usize),
    /// Options could not be agreed.
    #[error("option negotiation: {0}")]
    Negotiation(String),
    /// A handler failed.
    #[error("milter: {0:?}")]
    Milter(E),
}

/// Append one reply frame (length, code, data) to `out`.
fn frame(message: &ServerMessage, out: &mut BytesMut) {
    let len = message.len() + 1;
    out.reserve(4 + len);
    out.put_u32(len as u32);
    out.put_u8(message.code());
    message.write(out);
}

/// Serve one milter connection until the MTA quits or closes it.
pub(crate) async fn converse<M, S>(milter: &mut M, stream: S) -> Result<(), WireError<M::Error>>
where
    M: Milter,
    M::Error: std::fmt::Debug,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (reader, mut writer) = tokio::io::split(stream);
    let mut reader = tokio::io::BufReader::with_capacity(MAX_FRAME + 4, reader);
    let mut out = BytesMut::with_capacity(512);
    // Until options are negotiated: every command is answered, every
    // modification allowed (as `miltr_server` does).
    let mut protocol = Protocol::empty();
    let mut capabilities = Capability::all();
    loop {
        let mut len = [0u8; 4];
        match reader.read_exact(&mut len).await {
            Ok(_) => {}
            // The MTA closed the connection between commands.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_FRAME {
            return Err(WireError::TooLong(len));
        }
        let mut buf = BytesMut::zeroed(len);
        reader.read_exact(&mut buf).await?;
        let command = ClientCommand::parse(buf)?;
        let p = protocol;
        let answer = |action: Result<Action, M::Error>, skip: Protocol| match action {
            Ok(_) if p.contains(skip) => Ok(None),
            Ok(a) => Ok(Some(ServerMessage::from(a))),
            Err(e) => Err(WireError::Milter(e)),
        };
        let reply = match command {
            ClientCommand::OptNeg(theirs) => {
                let ours = milter
                    .option_negotiation(theirs)
                    .await
                    .map_err(|e| WireError::Negotiation(format!("{e:?}")))?;
                protocol = ours.protocol;
                capabilities = ours.capabilities;
                Some(ServerMessage::from(ours))
            }
            ClientCommand::Macro(m) => {
                milter.macro_(m).await.map_err(WireError::Milter)?;
                None
            }
            ClientCommand::Connect(c) => answer(milter.connect(c).await, Protocol::NR_CONNECT)?,
            ClientCommand::Helo(h) => answer(milter.helo(h).await, Protocol::NR_HELO)?,
            ClientCommand::Mail(m) => answer(milter.mail(m).await, Protocol::NR_MAIL)?,
            ClientCommand::Recipient(r) => answer(milter.rcpt(r).await, Protocol::NR_RECIPIENT)?,
            ClientCommand::Data(_) => answer(milter.data().await, Protocol::NR_DATA)?,
            ClientCommand::Header(h) => answer(milter.header(h).await, Protocol::NR_HEADER)?,
            ClientCommand::EndOfHeader(_) => {
                answer(milter.end_of_header().await, Protocol::NR_END_OF_HEADER)?
            }
            ClientCommand::Body(b) => answer(milter.body(b).await, Protocol::NR_BODY)?,
            ClientCommand::Unknown(u) => answer(milter.unknown(u).await, Protocol::NR_UNKNOWN)?,
            ClientCommand::EndOfBody(_) => {
                let mut response = milter.end_of_body().await.map_err(WireError::Milter)?;
                response.filter_mods_by_caps(capabilities);
                for message in Vec::<ServerMessage>::from(response) {
                    frame(&message, &mut out);
                }
                None
            }
            ClientCommand::Abort(_) => {
                milter.abort().await.map_err(WireError::Milter)?;
                None
            }
            ClientCommand::Quit(_) => {
                milter.quit().await.map_err(WireError::Milter)?;
                return Ok(());
            }
            ClientCommand::QuitNc(_) => {
                milter.quit_nc().await.map_err(WireError::Milter)?;
                None
            }
        };
        if let Some(message) = reply {
            frame(&message, &mut out);
        }
        if !out.is_empty() {
            writer.write_all(&out).await?;
            out.clear();
        }
    }
}
