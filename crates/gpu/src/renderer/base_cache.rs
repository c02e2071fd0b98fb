//! The base pass's cache. The leading opaque layers (a colour, a gradient, a full-frame
//! picture) depend only on their parameters, their picture and the frame size, so while none of
//! those change their result is the same every frame: it is drawn once into a texture of its
//! own and copied into the target at the start of each frame (a copy instead of shading every
//! pixel: on a software rasteriser such as lavapipe the background was ~40% of a bars frame).
//! A base that changes every frame (a looping video, a reactive colour) is drawn straight into
//! the target as before; one that stops changing is cached from its second unchanged frame.

use super::resources::frame_texture;

/// How this frame gets its base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BaseDraw {
    /// The cache holds it: copy.
    Copy,
    /// Unchanged since the previous frame but not cached: draw into the cache, then copy.
    Fill,
    /// Changed since the previous frame: draw into the target.
    Direct,
}

#[derive(Debug, Default)]
pub(super) struct BaseCache {
    /// Bumped whenever a base layer's parameters or picture change.
    version: u64,
    /// The version the previous frame drew.
    last_drawn: Option<u64>,
    /// The version the cache holds.
    cached: Option<u64>,
    /// The cache texture and the non-sRGB view the base pass draws through (made on first use).
    texture: Option<(wgpu::Texture, wgpu::TextureView)>,
}

impl BaseCache {
    /// A base layer's parameters or picture changed.
    pub(super) fn changed(&mut self) {
        self.version += 1;
    }

    /// Decides how this frame draws its base.
    pub(super) fn plan(&mut self) -> BaseDraw {
        let plan = match self.cached {
            Some(v) if v == self.version => BaseDraw::Copy,
            _ if self.last_drawn == Some(self.version) => BaseDraw::Fill,
            _ => BaseDraw::Direct,
        };
        self.last_drawn = Some(self.version);
        plan
    }

    /// The view the base pass draws into, of the cache texture (created on first use, `size`
    /// like the target), now recorded as holding the current version.
    pub(super) fn fill(&mut self, device: &wgpu::Device, size: (u32, u32)) -> wgpu::TextureView {
        self.cached = Some(self.version);
        let (_, view) = self.texture.get_or_insert_with(|| {
            frame_texture(
                device,
                "frame.base_cache",
                size,
                wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
            )
        });
        view.clone()
    }

    /// The cached texture (after [`Self::plan`] said [`BaseDraw::Copy`]).
    pub(super) fn texture(&self) -> Option<&wgpu::Texture> {
        self.texture.as_ref().map(|(t, _)| t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_static_base_is_drawn_twice_then_copied_and_a_changing_one_directly() {
        let mut c = BaseCache::default();
        // First frame: nothing known yet.
        assert_eq!(c.plan(), BaseDraw::Direct);
        // Unchanged since the first: cache it.
        assert_eq!(c.plan(), BaseDraw::Fill);
        c.cached = Some(c.version);
        assert_eq!(c.plan(), BaseDraw::Copy);
        assert_eq!(c.plan(), BaseDraw::Copy);
        // Changes every frame: straight into the target.
        c.changed();
        assert_eq!(c.plan(), BaseDraw::Direct);
        c.changed();
        assert_eq!(c.plan(), BaseDraw::Direct);
        // Stops changing: cached again from its second unchanged frame.
        assert_eq!(c.plan(), BaseDraw::Fill);
    }
}
