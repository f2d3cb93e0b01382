//! `futures_io::{AsyncRead, AsyncBufRead, AsyncWrite}` for [`Compat`], over its poll core.

use super::Compat;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

macro_rules! futures_read {
    ([$($g:ident),*] $t:ty) => {
        impl<$($g),*> futures_io::AsyncRead for Compat<$t> {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                let room = buf.len();
                self.get_mut()
                    .poll_read_core(cx, room, |bytes| buf[..bytes.len()].copy_from_slice(bytes))
            }
        }

        impl<$($g),*> futures_io::AsyncBufRead for Compat<$t> {
            fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
                self.get_mut().poll_fill_buf_core(cx)
            }

            fn consume(self: Pin<&mut Self>, amt: usize) {
                self.get_mut().consume_core(amt);
            }
        }
    };
}

macro_rules! futures_write {
    ([$($g:ident),*] $t:ty) => {
        impl<$($g),*> futures_io::AsyncWrite for Compat<$t> {
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

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().poll_flush_core(cx)
            }

            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().poll_shutdown_core(cx)
            }
        }
    };
}

for_each_reader!(futures_read);
for_each_writer!(futures_write);
