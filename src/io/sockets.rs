//! The stream traits for the socket types, delegating to their own methods.

use super::{AsyncRead, AsyncWrite};
use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::net::{TcpReadHalf, TcpStream, TcpWriteHalf, UnixStream};
use std::io;
use std::net::Shutdown;

impl AsyncRead for TcpStream {
    async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        TcpStream::read(self, buf).await
    }
}

impl AsyncWrite for TcpStream {
    async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        TcpStream::write(self, buf).await
    }
    async fn shutdown(&self) -> io::Result<()> {
        TcpStream::shutdown(self, Shutdown::Write)
    }
}

impl AsyncRead for TcpReadHalf {
    async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        TcpReadHalf::read(self, buf).await
    }
}

impl AsyncWrite for TcpWriteHalf {
    async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        TcpWriteHalf::write(self, buf).await
    }
    async fn shutdown(&self) -> io::Result<()> {
        TcpWriteHalf::shutdown(self)
    }
}

impl AsyncRead for UnixStream {
    async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        UnixStream::read(self, buf).await
    }
}

impl AsyncWrite for UnixStream {
    async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        UnixStream::write(self, buf).await
    }
    async fn shutdown(&self) -> io::Result<()> {
        UnixStream::shutdown(self, Shutdown::Write)
    }
}
