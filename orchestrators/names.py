"""Names of the app's durable functions, shared by the orchestrators that call them."""

PUBLISH_IMAGE = "publish_image"
GALLERY_VERSION = "gallery_version"

PLAN_JOB = "plan_job"
STAGE_RAW = "stage_raw"
VALIDATE_VHD = "validate_vhd"
FORGET_SOURCE_URL = "forget_source_url"
RELEASE_VHD = "release_vhd"
START_GALLERY_VERSION = "start_gallery_version"
POLL_GALLERY_VERSION = "poll_gallery_version"
REPORT_JOB = "report_job"
