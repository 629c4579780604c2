"""Names the frameworks use that vulture cannot see used: a whitelist, read (never run) by the
dead-code check in tests/test_dead_code.py.

Every name here is one a framework or library looks up on our classes, modules or objects by
its own name (an option, a hook it calls, an attribute it reads). Names the project itself
chooses and the framework finds by string (dotted paths in the settings, model and form fields,
choices, what templates read) are collected by the test, not listed here. Nothing that only the
tests use belongs here: that is dead code.
"""

_ = None  # vulture reads the attribute names below; the module is never imported

# --- Settings. The test adds every name Django's global_settings defines, and ignores the
# prefixes libraries read; Django also reads this one, which has no default there.
_.ROOT_URLCONF

# --- Modules other programs load by a fixed name.
_.application  # config/wsgi.py, config/asgi.py: the WSGI/ASGI callable servers import
_.accesslog  # config/gunicorn.py: gunicorn reads its settings as module-level names
_.access_log_format
_.logger_class
_.urlpatterns  # URLconfs: Django's resolver reads these module-level names
_.app_name
_.handler404

# --- Apps, models and managers.
_.default_site  # AdminConfig: the admin site class, by dotted path
_.constraints  # model Meta options
_.get_latest_by
_.ordering
_.verbose_name_plural
_.use_in_migrations  # a manager serialised into migrations
_.create_user  # the user manager's API: createsuperuser and django-allauth call these
_.create_superuser
_.USERNAME_FIELD  # the custom user model's API, read by django.contrib.auth and allauth
_.EMAIL_FIELD
_.REQUIRED_FIELDS
_.get_short_name  # shown by the admin's header (admin/base.html)
_.output_field  # a query expression's (Func) type, read by the ORM

# --- Forms. `clean_<field>` methods are ignored by pattern (the test's --ignore-names).
_.help_texts  # ModelForm Meta options
_.widgets
_.labels
_.help_text  # field and widget attributes the form renders
_.required
_.input_type
_._validate_constraints  # ModelForm: False skips the model's constraint messages on _post_clean

# --- The admin. ModelAdmin classes are registered by @admin.register (ignored by decorator).
_.actions  # ModelAdmin and inline options
_.add_fieldsets
_.can_delete
_.exclude
_.extra
_.fieldsets
_.inlines
_.list_display
_.list_filter
_.list_select_related
_.prepopulated_fields
_.raw_id_fields
_.readonly_fields
_.search_fields
_.get_fields  # ModelAdmin hooks the admin calls
_.get_readonly_fields
_.get_search_results
_.has_add_permission
_.has_change_permission
_.has_delete_permission

# --- Management commands: Django loads management/commands/NAME.py and runs its Command.
_.Command
_.help
_.add_arguments
_.handle

# --- System checks: Django calls every check with these keyword arguments.
_.app_configs

# --- Hooks of classes the settings name: Django and libraries call these on them.
_.process_request  # middleware
_.process_exception
_.send_mail  # django-allauth's account adapter
_.write_message  # Django's console e-mail backend
_.get_post_parameters  # Django's exception reporter filter (DEFAULT_EXCEPTION_REPORTER_FILTER)
_.get_traceback_frame_variables
_.get_safe_cookies
_.msg  # logging: a filter rewrites the record's message
_._class  # Django's RedisCache builds its client from self._class
_.get_many  # Django's cache client API (RedisCacheClient), overridden method by method
_.has_key
_.set_many
_.touch
_.delete_many
_._has_been_logged  # Django's "already logged" flag on a response (django.utils.log)

# --- Library hooks and attributes.
_.handle_starttag  # html.parser.HTMLParser calls these as it parses
_.handle_endtag
_.handle_startendtag
_.handle_data
_.opcodes  # difflib.SequenceMatcher: its cached opcodes, read by get_grouped_opcodes
_.data_type  # openpyxl: a cell's type ("s": text) and its quote prefix
_.quotePrefix
