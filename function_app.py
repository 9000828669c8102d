"""Composition root of the Function App: builds the durable app and registers its blueprints.

The starters, orchestrations and activities arrive with the app issue; until then the app is empty.
"""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
