//! [`RequestBody`]: any request body behind one type, so that one pool of connections
//! serves requests whatever their body type.

use hyper::body::{Body, Buf, Bytes, Frame, SizeHint};
use std::error::Error as StdError;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The error type bodies are erased to.
pub(crate) type BoxError = Box<dyn StdError + Send + Sync>;

/// A request body of any type: none, or a boxed one whose chunks are turned into
/// [`Bytes`] (without a copy when they are `Bytes` already: `Buf::copy_to_bytes` on
/// `Bytes` is a cheap split).
pub(crate) enum RequestBody {
    Empty,
    Boxed(Pin<Box<dyn Body<Data = Bytes, Error = BoxError>>>),
}

impl RequestBody {
    pub(crate) fn new<B>(body: B) -> RequestBody
    where
        B: Body + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        RequestBody::Boxed(Box::pin(MapBody { inner: body }))
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            RequestBody::Empty => Poll::Ready(None),
            RequestBody::Boxed(b) => b.as_mut().poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RequestBody::Empty => true,
            RequestBody::Boxed(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RequestBody::Empty => SizeHint::with_exact(0),
            RequestBody::Boxed(b) => b.size_hint(),
        }
    }
}

pin_project_lite::pin_project! {
    /// `B` with its chunks as `Bytes` and its errors boxed.
    struct MapBody<B> {
        #[pin]
        inner: B,
    }
}

impl<B> Body for MapBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.project().inner.poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(
                frame.map_data(|mut d| d.copy_to_bytes(d.remaining()))
            ))),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
