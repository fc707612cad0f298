<?php
/**
 * Removes Carechat's settings when the plugin is deleted.
 *
 * @package Carechat
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

if ( is_multisite() ) {
	foreach ( get_sites(
		array(
			'fields' => 'ids',
			'number' => 0,
		)
	) as $carechat_site_id ) {
		switch_to_blog( $carechat_site_id );
		delete_option( 'carechat_options' );
		restore_current_blog();
	}
} else {
	delete_option( 'carechat_options' );
}
