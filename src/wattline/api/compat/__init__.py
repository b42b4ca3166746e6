"""The seed systems' API shapes, beside Wattline's own (docs/compatibility.md).

One module per seed system: its routes under the paths its clients call, its
answers in the shapes they read. Each route reads Wattline's stores through the
same tenant-scoped look-ups and declares its role as the primary API does; the
primary API (``/api/v1``) knows nothing of these modules.
"""
