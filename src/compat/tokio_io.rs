//! `tokio::io::{AsyncRead, AsyncBufRead, AsyncWrite}` for [`Compat`], over its poll core.

use super::Compat;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::ReadBuf;

macro_rules! tokio_read {
    ([$($g:ident),*] $t:ty) => {
        impl<$($g),*> tokio::io::AsyncRead for Compat<$t> {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                let room = buf.remaining();
                self.get_mut()
                    .poll_read_core(cx, room, |bytes| buf.put_slice(bytes))
                    .map_ok(|_| ())
            }
        }

        impl<$($g),*> tokio::io::AsyncBufRead for Compat<$t> {
            fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
                self.get_mut().poll_fill_buf_core(cx)
            }

            fn consume(self: Pin<&mut Self>, amt: usize) {
                self.get_mut().consume_core(amt);
            }
        }
    };
}

macro_rules! tokio_write {
    ([$($g:ident),*] $t:ty) => {
        impl<$($g),*> tokio::io::AsyncWrite for Compat<$t> {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.get_mut().poll_write_core(cx, &[IoSlice::new(buf)])
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.get_mut().poll_write_core(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().poll_flush_core(cx)
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().poll_shutdown_core(cx)
            }
        }
    };
}

for_each_reader!(tokio_read);
for_each_writer!(tokio_write);
