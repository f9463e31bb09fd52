"""The autoencoder codec: a network's latent codes, values it cannot code stored exactly."""
