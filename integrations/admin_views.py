def import_bundle(request): pass
