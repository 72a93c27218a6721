"""gmail."""

# The name the warehouse stores for this source; the folder's modules and its spec use it.
SOURCE = "gmail"
