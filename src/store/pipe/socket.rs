//! The two halves of a TCP or unix-socket connection to Redis (the managed Redis listens on a
//! unix socket), so the pipe does not care which.

use std::io;

use redis::{ConnectionAddr, RedisError, RedisResult};
use tokio::io::AsyncReadExt;
use tokio::net::{tcp, unix, TcpStream, UnixStream};

pub(crate) enum Reader {
    Tcp(tcp::OwnedReadHalf),
    Unix(unix::OwnedReadHalf),
}

pub(crate) enum Writer {
    Tcp(tcp::OwnedWriteHalf),
    Unix(unix::OwnedWriteHalf),
}

pub(crate) async fn connect(addr: &ConnectionAddr) -> RedisResult<(Reader, Writer)> {
    match addr {
        ConnectionAddr::Tcp(host, port) => {
            let stream = TcpStream::connect((host.as_str(), *port)).await?;
            // Commands are whole when written: nothing is gained by waiting to coalesce them.
            stream.set_nodelay(true)?;
            let (read, write) = stream.into_split();
            Ok((Reader::Tcp(read), Writer::Tcp(write)))
        }
        ConnectionAddr::Unix(path) => {
            let (read, write) = UnixStream::connect(path).await?.into_split();
            Ok((Reader::Unix(read), Writer::Unix(write)))
        }
        other => Err(RedisError::from((
            redis::ErrorKind::InvalidClientConfig,
            "unsupported redis address",
            format!("{other}"),
        ))),
    }
}

impl Reader {
    pub(crate) async fn read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        match self {
            Reader::Tcp(half) => half.read_buf(buf).await,
            Reader::Unix(half) => half.read_buf(buf).await,
        }
    }
}

impl Writer {
    pub(crate) fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Writer::Tcp(half) => half.try_write(buf),
            Writer::Unix(half) => half.try_write(buf),
        }
    }

    pub(crate) async fn writable(&self) -> io::Result<()> {
        match self {
            Writer::Tcp(half) => half.writable().await,
            Writer::Unix(half) => half.writable().await,
        }
    }
}
